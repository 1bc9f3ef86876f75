// Multimodal manifests (errors name the line) and image + text batches
// (each image once per batch, image-grouped training order).
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <set>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "focus/data/multimodal_batch_source.h"
#include "focus/data/multimodal_data_config.h"
#include "focus/data/multimodal_manifest.h"
#include "focus/util/atomic_file.h"
#include "temp_dir.h"

using namespace focus::data;
using focus::testing::TempDir;

namespace {

void write_png(const std::filesystem::path& path, int size, uint8_t value) {
  std::filesystem::create_directories(path.parent_path());
  cv::imwrite(path.string(), cv::Mat(size, size, CV_8UC3, cv::Scalar(value, value, value)));
}

EncodedText tokens(std::vector<int64_t> ids) {
  EncodedText t;
  t.tokens.push_back({SpecialTokens::cls, 0, 0});
  for (auto id : ids) t.tokens.push_back({id, 0, 0});
  t.original_tokens = static_cast<int64_t>(ids.size());
  return t;
}

}  // namespace

TEST_CASE("manifest: fields, integer labels, groups, empty lines", "[data][multimodal]") {
  ManifestReadOptions o;
  o.group_field = "type";
  const auto ex = parse_manifest(
      "{\"image\": \"a.png\", \"text\": \"Is it red?\", \"label\": \"yes\", \"type\": \"non_relational\", \"x\": [1]}\n"
      "\n"
      "{\"image\": \"b.png\", \"text\": \"How many?\", \"label\": 3, \"type\": \"relational\"}\r\n",
      "m.jsonl", o);
  REQUIRE(ex.size() == 2);
  CHECK(ex[0].image == "a.png");
  CHECK(ex[0].text == "Is it red?");
  CHECK(ex[1].label == "3");
  CHECK(ex[1].group == "relational");
  CHECK(ex[1].line == 3);
}

TEST_CASE("manifest: malformed lines are errors naming file:line", "[data][multimodal]") {
  ManifestReadOptions o;
  const std::string good = "{\"image\": \"a.png\", \"text\": \"q\", \"label\": \"yes\"}\n";
  CHECK_THROWS_WITH(parse_manifest(good + "{\"image\": \"a.png\", \"label\": \"no\"}\n", "m.jsonl", o),
                    Catch::Contains("m.jsonl:2: missing field 'text'"));
  CHECK_THROWS_WITH(parse_manifest(good + good + "{\"image\": \"a.png\", \"text\": \"q\"\n", "m.jsonl", o),
                    Catch::Contains("m.jsonl:3: not valid JSON"));
  // Found by tests/fuzz/fuzz_manifest: a number beyond a double's range escaped as a JSON library error.
  CHECK_THROWS_WITH(parse_manifest(good + "{\"image\": \"a.png\", \"text\": \"q\", \"label\": 1e999}\n", "m.jsonl", o),
                    Catch::Contains("m.jsonl:2: not valid JSON"));
  CHECK_THROWS_WITH(parse_manifest("[1, 2]\n", "m.jsonl", o), Catch::Contains("m.jsonl:1: expected a JSON object"));
  CHECK_THROWS_WITH(parse_manifest("{\"image\": 5, \"text\": \"q\", \"label\": \"y\"}\n", "m.jsonl", o),
                    Catch::Contains("m.jsonl:1: field 'image' must be a string"));
  o.group_field = "type";
  CHECK_THROWS_WITH(parse_manifest(good, "m.jsonl", o), Catch::Contains("m.jsonl:1: missing field 'type'"));
}

TEST_CASE("manifest images: decoded once each; missing, unreadable and odd-sized images name the line",
          "[data][multimodal]") {
  TempDir dir;
  write_png(dir / "img/a.png", 12, 10);
  write_png(dir / "img/b.png", 12, 200);
  write_png(dir / "img/big.png", 16, 0);
  focus::util::write_file_atomic(dir / "img/broken.png", "this is not a PNG");
  const std::string manifest = (dir / "m.jsonl").string();
  auto ex = [](std::string image, int64_t line) { return ManifestExample{std::move(image), "q", "yes", "", line}; };

  auto images = load_manifest_images({ex("img/a.png", 1), ex("img/b.png", 2), ex("img/a.png", 3)}, manifest, 3, 0);
  CHECK(images.images.sizes() == std::vector<int64_t>{2, 12, 12, 3});
  CHECK(images.image_of == std::vector<int64_t>{0, 1, 0});
  CHECK(images.images[1][0][0][0].item<int>() == 200);

  CHECK_THROWS_WITH(load_manifest_images({ex("img/a.png", 1), ex("img/missing.png", 7)}, manifest, 3, 0),
                    Catch::Contains("m.jsonl:7: image 'img/missing.png' does not exist"));
  CHECK_THROWS_WITH(load_manifest_images({ex("img/broken.png", 4)}, manifest, 3, 0),
                    Catch::Contains("m.jsonl:4: image 'img/broken.png'") && Catch::Contains("not a decodable image"));
  CHECK_THROWS_WITH(load_manifest_images({ex("img/a.png", 1), ex("img/big.png", 2)}, manifest, 3, 0),
                    Catch::Contains("m.jsonl:2") && Catch::Contains("16x16, expected 12x12"));
  auto resized = load_manifest_images({ex("img/a.png", 1), ex("img/big.png", 2)}, manifest, 1, 8);
  CHECK(resized.images.sizes() == std::vector<int64_t>{2, 8, 8, 1});
}

TEST_CASE("image + text batches: distinct images once, image_index, grouped training order", "[data][multimodal]") {
  // 4 images of constant value i; 3 questions each; question j of image i has tokens {5 + i, 5 + j}.
  const int64_t n_images = 4, per_image = 3;
  auto images = torch::empty({n_images, 2, 2, 1}, torch::kUInt8);
  for (int64_t i = 0; i < n_images; ++i) images[i].fill_(static_cast<uint8_t>(10 * i));
  std::vector<EncodedText> texts;
  std::vector<int64_t> image_of, labels;
  for (int64_t j = 0; j < per_image; ++j)
    for (int64_t i = 0; i < n_images; ++i) {  // questions interleaved across images in file order
      texts.push_back(tokens(j == 0 ? std::vector<int64_t>{5 + i} : std::vector<int64_t>{5 + i, 5 + j}));
      image_of.push_back(i);
      labels.push_back(i);
    }
  Normalization norm{{0.0}, {1.0}};
  MultimodalBatchOptions o;
  o.batch_size = 6;
  o.shuffle = true;
  MultimodalBatchSource source(images, norm, texts, image_of, labels, o);
  CHECK(source.size() == 12);
  CHECK(source.batches() == 2);

  auto check_epoch = [&](uint64_t seed, int64_t epoch) {
    std::vector<int64_t> image_order;
    auto stream = source.epoch(seed, epoch);
    int64_t seen = 0;
    while (auto batch = stream->next()) {
      const auto& imgs = batch->extra.at(kBatchImages);
      const auto& index = batch->extra.at(kBatchImageIndex);
      REQUIRE(imgs.size(0) == 2);  // 6 questions = 2 whole images, each decoded once
      REQUIRE(batch->inputs.size(0) == 6);
      for (int64_t r = 0; r < 6; ++r) {
        const int64_t img = batch->targets[r].item<int64_t>();  // label = image
        const auto row = index[r].item<int64_t>();
        CHECK(imgs[row][0][0][0].item<float>() == Approx(10.0 * img / 255.0));
        CHECK(batch->inputs[r][1].item<int64_t>() == 5 + img);
        if (image_order.empty() || image_order.back() != img) image_order.push_back(img);
      }
      CHECK(batch->mask.sum().item<int64_t>() == 2 * (2 + 3 + 3));  // lengths 2, 3, 3 per image
      seen += batch->inputs.size(0);
    }
    CHECK(seen == 12);
    CHECK(std::set<int64_t>(image_order.begin(), image_order.end()).size() == 4);
    CHECK(image_order.size() == 4);  // each image's questions are contiguous
    return image_order;
  };
  CHECK(check_epoch(1, 0) == check_epoch(1, 0));
  std::set<std::vector<int64_t>> orders;
  for (int64_t e = 0; e < 6; ++e) orders.insert(check_epoch(1, e));
  CHECK(orders.size() > 1);

  // Smaller groups mix more images into a batch; each still decoded once.
  o.group_size = 1;
  MultimodalBatchSource mixed(images, norm, texts, image_of, labels, o);
  int64_t most_images = 0;
  for (int64_t e = 0; e < 4; ++e) {
    auto stream = mixed.epoch(2, e);
    while (auto batch = stream->next()) {
      const auto distinct = std::get<0>(at::_unique(batch->targets)).size(0);
      CHECK(batch->extra.at(kBatchImages).size(0) == distinct);
      most_images = std::max(most_images, distinct);
    }
  }
  CHECK(most_images > 2);

  // Evaluation order is file order; an image may appear in several batches.
  o.shuffle = false;
  MultimodalBatchSource eval(images, norm, texts, image_of, labels, o);
  auto stream = eval.epoch(1, 0);
  auto first = stream->next();
  REQUIRE(first);
  CHECK(first->extra.at(kBatchImages).size(0) == 4);
  CHECK(first->targets[0].item<int64_t>() == 0);
  CHECK(first->targets[1].item<int64_t>() == 1);
}

TEST_CASE("image + text batches: a curriculum trains on some examples first, epochs keep their length",
          "[data][multimodal]") {
  // 4 images, 3 questions each; the first question of each image (1 token) from epoch 1, the others from epoch 3.
  const int64_t n_images = 4, per_image = 3;
  auto images = torch::zeros({n_images, 2, 2, 1}, torch::kUInt8);
  std::vector<EncodedText> texts;
  std::vector<int64_t> image_of, labels;
  MultimodalBatchOptions o;
  o.batch_size = 5;
  o.shuffle = true;
  for (int64_t i = 0; i < n_images; ++i)
    for (int64_t j = 0; j < per_image; ++j) {
      texts.push_back(tokens(j == 0 ? std::vector<int64_t>{5} : std::vector<int64_t>{6, 7}));
      image_of.push_back(i);
      labels.push_back(i * per_image + j);  // label = example
      o.first_epoch.push_back(j == 0 ? 1 : 3);
    }
  MultimodalBatchSource source(images, Normalization{{0.0}, {1.0}}, texts, image_of, labels, o);
  REQUIRE(source.batches() == 3);
  auto examples_of = [&](int64_t epoch) {
    std::vector<int64_t> seen;
    int64_t batches = 0;
    auto stream = source.epoch(7, epoch);
    while (auto batch = stream->next()) {
      ++batches;
      for (int64_t r = 0; r < batch->targets.size(0); ++r) seen.push_back(batch->targets[r].item<int64_t>());
    }
    CHECK(batches == 3);
    return seen;
  };
  for (int64_t epoch : {1, 2}) {
    const auto seen = examples_of(epoch);
    CHECK(seen.size() == 12);  // the 4 available examples, three passes
    for (int64_t e : seen) CHECK(e % per_image == 0);
    for (int64_t i = 0; i < n_images; ++i) CHECK(std::count(seen.begin(), seen.end(), i * per_image) == 3);
  }
  const auto all = examples_of(3);
  CHECK(std::set<int64_t>(all.begin(), all.end()).size() == 12);  // from epoch 3 on: each example once

  o.first_epoch.assign(12, 2);  // nothing available in epoch 1
  MultimodalBatchSource none(images, Normalization{{0.0}, {1.0}}, texts, image_of, labels, o);
  CHECK_THROWS_WITH(none.epoch(1, 1), Catch::Contains("no example is available in epoch 1"));
  o.first_epoch.assign(5, 1);
  CHECK_THROWS_WITH(MultimodalBatchSource(images, Normalization{{0.0}, {1.0}}, texts, image_of, labels, o),
                    Catch::Contains("5 first epochs for 12 examples"));
}

TEST_CASE("curriculum: stages give each group its first epoch; bad stages are errors", "[data][multimodal]") {
  const std::vector<CurriculumStage> stages = {{2, {"easy"}}, {3, {"easy", "medium"}}};
  CHECK(curriculum_first_epochs(stages, {"easy", "medium", "hard", "easy"}, "data.curriculum") ==
        std::vector<int64_t>{1, 3, 6, 1});
  CHECK(curriculum_first_epochs({}, {"easy"}, "data.curriculum").empty());
  CHECK_THROWS_WITH(curriculum_first_epochs(stages, {"easy", "hard"}, "data.curriculum"),
                    Catch::Contains("data.curriculum[1].groups: no training example has the group \"medium\"") &&
                        Catch::Contains("found: \"easy\", \"hard\""));

  auto parse = [](const std::string& text) {
    return parse_multimodal_data_config(focus::util::Json::parse(text), "recipe r.json: data");
  };
  const auto c = parse(R"({"root": "d", "group_field": "type", "curriculum": [{"epochs": 2, "groups": ["a"]}]})");
  REQUIRE(c.curriculum.size() == 1);
  CHECK(c.curriculum[0].epochs == 2);
  CHECK(to_json(c)["curriculum"][0]["groups"][0] == "a");
  CHECK_THROWS_WITH(parse(R"({"root": "d", "curriculum": [{"epochs": 2, "groups": ["a"]}]})"),
                    Catch::Contains("needs data.group_field"));
  CHECK_THROWS_WITH(parse(R"({"root": "d", "group_field": "type", "curriculum": [{"epochs": 0, "groups": ["a"]}]})"),
                    Catch::Contains("curriculum[0].epochs: must be at least 1"));
  CHECK_THROWS_WITH(parse(R"({"root": "d", "group_field": "type", "curriculum": [{"epochs": 1, "groups": []}]})"),
                    Catch::Contains("curriculum[0].groups: must name at least one group"));
  CHECK_THROWS_WITH(parse(R"({"root": "d", "group_field": "type", "curriculum": {"epochs": 1}})"),
                    Catch::Contains("expected an array of stages"));
}
