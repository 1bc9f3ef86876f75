// TorchScript translation and deployment: every architecture's archive, saved
// and loaded back, gives the C++ model's logits and attention maps; metadata
// round trip; a model without Focus metadata; raw inputs to tensors; top-k.
#include <catch2/catch.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "focus/data/multimodal_batch_source.h"
#include "focus/deploy/example_sources.h"
#include "focus/deploy/export.h"
#include "focus/deploy/model_inputs.h"
#include "focus/deploy/to_torchscript.h"
#include "focus/models/factory.h"
#include "focus/util/error.h"
#include "temp_dir.h"

using focus::util::Json;
namespace deploy = focus::deploy;
namespace models = focus::models;

namespace {

models::InputSpec text_input(int64_t vocab, int64_t max_length, int64_t classes) {
  models::InputSpec s;
  s.vocab_size = vocab;
  s.max_length = max_length;
  s.num_classes = classes;
  return s;
}

/// Flat token rows of different lengths ([CLS] first), padded with 0.
focus::data::Batch token_batch(int64_t rows, int64_t length, int64_t vocab) {
  focus::data::Batch b;
  b.inputs = torch::zeros({rows, length}, torch::kLong);
  b.mask = torch::zeros({rows, length}, torch::kBool);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = 2 + (r * 3) % (length - 1);
    b.inputs[r][0] = 2;
    b.inputs[r].narrow(0, 1, n - 1).copy_(torch::randint(5, vocab, {n - 1}));
    b.mask[r].narrow(0, 0, n).fill_(true);
  }
  return b;
}

/// Documents [B, S, W] with sentences of varying length; document 1 ends after one sentence.
focus::data::Batch sentence_batch(int64_t vocab) {
  focus::data::Batch b;
  const int64_t B = 3, S = 4, W = 6;
  b.inputs = torch::zeros({B, S, W}, torch::kLong);
  b.mask = torch::zeros({B, S, W}, torch::kBool);
  for (int64_t d = 0; d < B; ++d)
    for (int64_t s = 0; s < (d == 1 ? 1 : S); ++s) {
      const int64_t n = 1 + (d + 2 * s) % W;
      b.inputs[d][s].narrow(0, 0, n).copy_(torch::randint(5, vocab, {n}));
      b.mask[d][s].narrow(0, 0, n).fill_(true);
    }
  return b;
}

focus::data::Batch image_batch(int64_t n, int64_t channels, int64_t size) {
  focus::data::Batch b;
  b.inputs = torch::randn({n, channels, size, size});
  return b;
}

/// Random running statistics, so that batch norm in evaluation mode is not the identity.
void randomize_batch_norm(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& buffer : model.named_buffers()) {
    if (buffer.key().find("running_mean") != std::string::npos) buffer.value().normal_(0, 0.5);
    if (buffer.key().find("running_var") != std::string::npos) buffer.value().uniform_(0.5, 2.0);
  }
  for (auto& p : model.named_parameters())
    if (p.key().find("bn") != std::string::npos || p.key().find("film.generator") != std::string::npos)
      p.value().normal_(0.5, 0.3);  // zero-initialised parts (non-local bn, FiLM) made to matter
}

struct Case {
  std::string name;
  Json spec;
  models::InputSpec input;
  models::InputKind kind;
  focus::data::Batch batch;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  const auto fashion = models::image_input(1, 10, 28, 28);
  out.push_back({"attncnn se/cbam/nonlocal + attention pool",
                 Json::parse(R"({"arch": "attncnn", "stem_channels": 8, "stages": [
                   {"channels": 8, "attention": "se"}, {"channels": 16, "stride": 2, "attention": "cbam"},
                   {"channels": 16, "stride": 2, "attention": "nonlocal"}], "head": "attention_pool"})"),
                 fashion, models::InputKind::images, image_batch(3, 1, 28)});
  out.push_back({"attncnn avg head", Json::parse(R"({"arch": "attncnn", "stem_channels": 4, "stages": [
                   {"channels": 8, "blocks": 2, "stride": 2}], "head": "avg"})"),
                 models::image_input(3, 4, 16, 16), models::InputKind::images, image_batch(2, 3, 16)});
  out.push_back({"vit", Json::parse(R"({"arch": "vit", "patch": 7, "dim": 16, "layers": 2, "heads": 2})"), fashion,
                 models::InputKind::images, image_batch(3, 1, 28)});
  for (const char* head : {"cls", "attention_pool"})
    for (const char* positions : {"learned", "sinusoidal"}) {
      Json spec = {{"arch", "text_transformer"}, {"dim", 16}, {"layers", 2}, {"heads", 4},
                   {"head", head},               {"positions", positions}};
      out.push_back({std::string("text_transformer ") + head + " " + positions, spec, text_input(40, 12, 3),
                     models::InputKind::tokens, token_batch(4, 9, 40)});
    }
  out.push_back({"bag_of_embeddings", Json::parse(R"({"arch": "bag_of_embeddings", "dim": 8, "bigram_buckets": 50})"),
                 text_input(40, 12, 2), models::InputKind::tokens, token_batch(4, 9, 40)});
  out.push_back({"han", Json::parse(R"({"arch": "han", "embedding_dim": 12, "hidden": 8, "attention_dim": 10})"),
                 text_input(40, 0, 2), models::InputKind::sentences, sentence_batch(40)});
  // "cross conditioned": the cross fusion with FiLM conditioning blocks; "cross fourier": with Fourier
  // region positions; "cross focus": with the focus bias; plain cross stays last.
  for (const std::string fusion :
       {"concat", "late", "film", "cross conditioned", "cross fourier", "cross focus", "cross"}) {
    Json spec = Json::parse(R"({"arch": "fusion", "image": {"stem_channels": 8, "stem_stride": 2,
      "stages": [{"channels": 8, "stride": 2, "attention": "se"}, {"channels": 16, "stride": 2}]},
      "text": {"dim": 16, "layers": 1, "heads": 2}, "dim": 24, "heads": 2, "relational_layers": 1,
      "cross_layers": 2, "film_blocks": 2, "hidden": 24})");
    spec["fusion"] = fusion.substr(0, fusion.find(' '));
    if (fusion == "cross conditioned") spec["conditioning_blocks"] = 2;
    if (fusion == "cross fourier") spec["region_positions"] = "fourier";
    if (fusion == "cross focus") spec["cross_focus_bias"] = true;
    auto input = text_input(30, 10, 7);
    input.channels = 3;
    input.height = input.width = 32;
    auto batch = token_batch(5, 8, 30);
    batch.extra[focus::data::kBatchImages] = torch::randn({2, 3, 32, 32});
    batch.extra[focus::data::kBatchImageIndex] = torch::tensor({0, 1, 1, 0, 1}, torch::kLong);
    out.push_back({"fusion " + fusion, spec, input, models::InputKind::image_text, batch});
  }
  return out;
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

}  // namespace

TEST_CASE("to_torchscript: every architecture's archive matches the C++ model", "[deploy]") {
  torch::manual_seed(11);
  focus::testing::TempDir dir;
  for (auto& c : cases()) {
    INFO(c.name);
    auto model = models::build_model(c.spec, c.input, "model");
    randomize_batch_norm(*model);
    model->eval();
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters())  // focus biases start at 0: give them weight
      if (p.key().find("focus_coefficients") != std::string::npos) p.value().uniform_(-1, 1);
    const auto expected = model->forward_with_attention(c.batch);

    const auto file = (dir / "model.pt").string();
    deploy::to_torchscript(*model).save(file);
    auto loaded = torch::jit::load(file);
    const auto inputs = deploy::script_inputs(c.batch, c.kind);
    auto result = loaded.get_method("forward_with_attention")(inputs).toTuple();
    const auto logits = result->elements()[0].toTensor();
    const auto maps = result->elements()[1].toGenericDict();

    REQUIRE(logits.sizes() == expected.logits.sizes());
    const double logit_difference = max_abs(logits, expected.logits);
    CHECK(logit_difference < 1e-5);
    const auto plain = loaded.forward(inputs).toTensor();
    CHECK(max_abs(plain, expected.logits) < 1e-5);
    REQUIRE(static_cast<size_t>(maps.size()) == expected.attention.size());
    size_t k = 0;
    for (const auto& item : maps) {  // same names, same order
      const auto& want = expected.attention[k++];
      INFO(want.name);
      CHECK(item.key().toStringRef() == want.name);
      const auto got = item.value().toTensor();
      REQUIRE(got.sizes() == want.weights.sizes());
      const double map_difference = max_abs(got, want.weights);
      CHECK(map_difference < 1e-5);
    }
    // The state dict reads like the C++ one.
    std::set<std::string> script_names;
    for (const auto& p : loaded.named_parameters()) script_names.insert(p.name);
    for (const auto& p : model->named_parameters())
      if (p.value().defined()) CHECK(script_names.count(p.key()) == 1);
  }
}

TEST_CASE("to_torchscript: the fusion archive defaults to one image per question", "[deploy]") {
  torch::manual_seed(12);
  auto all = cases();
  auto& c = all.back();  // fusion cross
  auto model = models::build_model(c.spec, c.input, "model");
  model->eval();
  torch::NoGradGuard no_grad;
  c.batch.extra[focus::data::kBatchImages] = torch::randn({5, 3, 32, 32});
  c.batch.extra[focus::data::kBatchImageIndex] = torch::arange(5, torch::kLong);
  const auto expected = model->forward(c.batch);
  auto script = deploy::to_torchscript(*model);
  const auto got = script.forward({c.batch.extra[focus::data::kBatchImages], c.batch.inputs, c.batch.mask}).toTensor();
  CHECK(max_abs(got, expected) < 1e-5);
  // A mismatch between images and questions is an error, not a crash.
  CHECK_THROWS(script.forward({torch::randn({2, 3, 32, 32}), c.batch.inputs, c.batch.mask}));
}

TEST_CASE("to_torchscript: a masked language model has no translation", "[deploy]") {
  auto model = models::build_model({{"arch", "masked_lm"}, {"dim", 16}, {"layers", 1}, {"heads", 2}},
                                   text_input(30, 8, 30), "model");
  CHECK_THROWS_AS(deploy::to_torchscript(*model), focus::Error);
}

TEST_CASE("Script metadata: JSON round trip and clear errors", "[deploy]") {
  deploy::ScriptMetadata m;
  m.arch = "fusion";
  m.input = models::InputKind::image_text;
  m.class_names = {"yes", "no"};
  m.channels = 3;
  m.height = m.width = 75;
  m.normalization = {{0.1, 0.2, 0.3}, {0.4, 0.5, 0.6}};
  m.text.max_length = 64;
  m.text.tail_length = 16;
  m.tokenizer = "word";
  m.tokenizer_files = {"tokenizer.json"};
  const auto back = deploy::metadata_from_json(deploy::to_json(m), "focus.json");
  CHECK(back.arch == "fusion");
  CHECK(back.input == models::InputKind::image_text);
  CHECK(back.class_names == m.class_names);
  CHECK(back.height == 75);
  CHECK(back.normalization.std == m.normalization.std);
  CHECK(back.text.max_length == 64);
  CHECK(back.text.tail_length == 16);
  CHECK(back.tokenizer_files == m.tokenizer_files);

  Json newer = deploy::to_json(m);
  newer["version"] = 99;
  CHECK_THROWS_WITH(deploy::metadata_from_json(newer, "focus.json"), Catch::Contains("focus.json.version"));
  Json no_image = deploy::to_json(m);
  no_image.erase("image");
  CHECK_THROWS_WITH(deploy::metadata_from_json(no_image, "focus.json"), Catch::Contains("'image'"));
  Json long_tail = deploy::to_json(m);
  long_tail["text"]["tail_length"] = 64;
  CHECK_THROWS_WITH(deploy::metadata_from_json(long_tail, "focus.json"), Catch::Contains("tail_length < max_length"));
  Json older = deploy::to_json(m);  // written before tail_length existed: head only
  older["text"].erase("tail_length");
  CHECK(deploy::metadata_from_json(older, "focus.json").text.tail_length == 0);
}

TEST_CASE("ScriptModel: an archive without Focus metadata is an image classifier fed by the flags", "[deploy]") {
  torch::manual_seed(13);
  focus::testing::TempDir dir;
  auto model = models::build_model(
      Json::parse(R"({"arch": "attncnn", "stem_channels": 4, "stages": [{"channels": 8, "stride": 2}]})"),
      models::image_input(3, 4, 20, 20), "model");
  model->eval();
  const auto file = (dir / "foreign.pt").string();
  deploy::to_torchscript(*model).save(file);  // no extra files

  deploy::ForeignModelOptions foreign;
  foreign.height = foreign.width = 20;
  foreign.class_names = {"a", "b", "c", "d"};
  const auto loaded = deploy::ScriptModel::load(file, torch::kCPU, foreign);
  CHECK_FALSE(loaded.from_focus());
  CHECK(loaded.metadata().input == models::InputKind::images);
  CHECK(loaded.class_name(2) == "c");

  // A 30x25 colour PNG, resized to 20x20 and normalised.
  cv::Mat pixels(25, 30, CV_8UC3, cv::Scalar(10, 200, 90));
  std::vector<uchar> png;
  cv::imencode(".png", pixels, png);
  const std::vector<deploy::RawExample> examples = {{"x.png", std::string(png.begin(), png.end()), "", ""},
                                                    {"y.png", std::string(png.begin(), png.end()), "", ""}};
  auto inputs = deploy::make_inputs(loaded, examples);
  const auto images = inputs[0].toTensor();
  REQUIRE(images.sizes() == std::vector<int64_t>{2, 3, 20, 20});
  // OpenCV's BGR (10, 200, 90) arrives as RGB (90, 200, 10).
  CHECK(images[0][0][5][5].item<float>() == Approx((90 / 255.0 - 0.485) / 0.229).epsilon(1e-4));
  CHECK(images[0][2][5][5].item<float>() == Approx((10 / 255.0 - 0.406) / 0.225).epsilon(1e-4));

  const auto logits = loaded.forward(inputs);
  const auto top = deploy::top_k(loaded, logits, 3);
  REQUIRE(top.size() == 2);
  REQUIRE(top[0].size() == 3);
  CHECK(top[0][0].probability >= top[0][1].probability);
  CHECK(top[0][1].probability >= top[0][2].probability);
  CHECK(top[0][0].label == foreign.class_names[static_cast<size_t>(top[0][0].index)]);

  CHECK_THROWS_WITH(deploy::make_inputs(loaded, {{"bad.png", "not an image", "", ""}}), Catch::Contains("bad.png"));
  foreign.mean = {0.5};
  CHECK_THROWS_WITH(deploy::ScriptModel::load(file, torch::kCPU, foreign), Catch::Contains("one mean and one std"));
  CHECK_THROWS_WITH(deploy::ScriptModel::load((dir / "missing.pt").string(), torch::kCPU),
                    Catch::Contains("no such model file"));
  std::ofstream((dir / "junk.pt").string()) << "junk";
  CHECK_THROWS_WITH(deploy::ScriptModel::load((dir / "junk.pt").string(), torch::kCPU),
                    Catch::Contains("not a TorchScript archive"));
}

TEST_CASE("gather_examples: texts, JSONL and pairing, with errors naming the line", "[deploy]") {
  focus::testing::TempDir dir;
  {
    std::ofstream((dir / "texts.txt").string()) << "first text\n\n  \nsecond text\r\n";
    std::ofstream((dir / "data.jsonl").string()) << "{\"text\": \"a\"}\n{\"body\": \"b\"}\n";
  }
  deploy::ExampleSourceOptions o;
  o.texts = {"hello"};
  o.text_files = {(dir / "texts.txt").string()};
  auto examples = deploy::gather_examples(o, models::InputKind::tokens);
  REQUIRE(examples.size() == 3);
  CHECK(examples[1].text == "first text");
  CHECK(examples[2].text == "second text");
  CHECK(examples[2].name == (dir / "texts.txt").string() + ":4");

  deploy::ExampleSourceOptions j;
  j.jsonl_files = {(dir / "data.jsonl").string()};
  CHECK_THROWS_WITH(deploy::gather_examples(j, models::InputKind::tokens),
                    Catch::Contains("data.jsonl:2") && Catch::Contains("missing field 'text'"));
  CHECK_THROWS_WITH(deploy::gather_examples(o, models::InputKind::images), Catch::Contains("reads images, not text"));
  CHECK_THROWS_WITH(deploy::gather_examples(o, models::InputKind::image_text), Catch::Contains("one text per image"));
  CHECK_THROWS_WITH(deploy::gather_examples({}, models::InputKind::tokens), Catch::Contains("no inputs"));
}

TEST_CASE("to_torchscript: an int8 Linear layer does not saturate on CPUs without VNNI", "[deploy]") {
  // One quantized layer (the bag of embeddings' classifier, 64 inputs): with 8-bit
  // activations oneDNN's 16-bit pair sums overflow on AVX2-only CPUs (17% error
  // measured); the archive quantizes activations to 7 bits, as PyTorch does on x86.
  torch::manual_seed(15);
  focus::testing::TempDir dir;
  auto model = models::build_model(Json::parse(R"({"arch": "bag_of_embeddings", "dim": 64})"), text_input(500, 16, 32),
                                   "model");
  model->eval();
  auto batch = token_batch(64, 16, 500);
  torch::NoGradGuard no_grad;
  const auto expected = model->forward(batch);
  deploy::TorchScriptOptions options;
  options.quantize_linear = true;
  deploy::to_torchscript(*model, options).save((dir / "int8.pt").string());
  const auto got =
      torch::jit::load((dir / "int8.pt").string()).forward(deploy::script_inputs(batch, models::InputKind::tokens)).toTensor();
  const double relative = max_abs(got, expected) / expected.abs().max().item<double>();
  INFO("relative error " << relative);
  CHECK(relative > 0);
  CHECK(relative < 0.01);
}

TEST_CASE("to_torchscript: int8 Linear layers stay close to float32 and survive save/load", "[deploy]") {
  torch::manual_seed(14);
  focus::testing::TempDir dir;
  Json spec = {{"arch", "text_transformer"}, {"dim", 32}, {"layers", 2}, {"heads", 4}};
  auto model = models::build_model(spec, text_input(60, 16, 3), "model");
  model->eval();
  auto batch = token_batch(8, 12, 60);
  torch::NoGradGuard no_grad;
  const auto expected = model->forward(batch);

  deploy::TorchScriptOptions options;
  options.quantize_linear = true;
  deploy::to_torchscript(*model, options).save((dir / "int8.pt").string());
  auto loaded = torch::jit::load((dir / "int8.pt").string());
  const auto got = loaded.forward(deploy::script_inputs(batch, models::InputKind::tokens)).toTensor();
  REQUIRE(got.sizes() == expected.sizes());
  const double scale = expected.abs().max().item<double>();
  const double difference = max_abs(got, expected);
  CHECK(difference > 0);              // really quantized
  // But close: a random 2-layer model has small logits (max 0.59 here), and 13
  // layers with 7-bit activations move them by about 10% of that (0.06 measured);
  // saturating 16-bit sums (8-bit activations on an AVX2-only CPU) moved them 50%.
  CHECK(difference < 0.15 * scale);
  // The Linear weights are packed int8, not float parameters.
  std::set<std::string> names;
  for (const auto& p : loaded.named_parameters()) names.insert(p.name);
  CHECK(names.count("classifier.weight") == 0);
  CHECK(names.count("encoder.embedding.weight") == 1);
}
