// FusionNet (image + text): shapes of every fusion, attention maps, FiLM at
// identity initialisation, each image encoded once, padding invariance.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/data/multimodal_batch_source.h"
#include "focus/models/factory.h"
#include "focus/models/fusion_net.h"
#include "focus/nn/film.h"
#include "focus/util/json_reader.h"

using focus::util::Json;
namespace models = focus::models;

namespace {

models::InputSpec vqa_input() {
  models::InputSpec s;
  s.channels = 3;
  s.height = s.width = 32;
  s.num_classes = 7;
  s.vocab_size = 20;
  s.max_length = 16;
  return s;
}

Json small_model(const std::string& fusion) {
  return Json::parse(R"({"arch": "fusion", "fusion": ")" + fusion + R"(",
    "image": {"stem_channels": 8, "stem_stride": 2, "stages": [{"channels": 8, "stride": 2}, {"channels": 16, "stride": 2}]},
    "text": {"dim": 16, "layers": 1, "heads": 2, "dropout": 0.0},
    "dim": 16, "heads": 2, "relational_layers": 1, "cross_layers": 2, "film_blocks": 2, "hidden": 24, "dropout": 0.0})");
}

/// The fusions to test: the four, cross with FiLM conditioning blocks ("cross conditioned") and cross
/// with Fourier region positions ("cross fourier").
const std::vector<std::string> kVariants = {"concat", "late", "film", "cross", "cross conditioned", "cross fourier"};
Json variant(const std::string& name) {
  auto spec = small_model(name.substr(0, name.find(' ')));
  if (name == "cross conditioned") spec["conditioning_blocks"] = 2;
  if (name == "cross fourier") spec["region_positions"] = "fourier";
  return spec;
}

/// Q questions about I images: question q asks about image q % I; lengths vary, padded to `length`.
focus::data::Batch vqa_batch(int64_t questions, int64_t images, int64_t length) {
  focus::data::Batch b;
  b.inputs = torch::zeros({questions, length}, torch::kLong);
  b.mask = torch::zeros({questions, length}, torch::kBool);
  for (int64_t q = 0; q < questions; ++q) {
    const int64_t n = 3 + q % 4;
    b.inputs[q][0] = focus::data::SpecialTokens::cls;
    b.inputs[q].narrow(0, 1, n - 1).copy_(torch::randint(5, 20, {n - 1}));
    b.mask[q].narrow(0, 0, n).fill_(true);
  }
  b.extra[focus::data::kBatchImages] = torch::randn({images, 3, 32, 32});
  b.extra[focus::data::kBatchImageIndex] = torch::arange(questions, torch::kLong).remainder(images);
  b.targets = torch::randint(0, 7, {questions});
  return b;
}

}  // namespace

TEST_CASE("FusionNet: every fusion gives logits [Q, classes] and trains", "[models][multimodal]") {
  torch::manual_seed(5);
  for (const auto& fusion : kVariants) {
    INFO(fusion);
    auto model = models::build_model(variant(fusion), vqa_input(), "test");
    auto batch = vqa_batch(6, 2, 9);
    auto logits = model->forward(batch);
    CHECK(logits.sizes() == std::vector<int64_t>{6, 7});
    auto loss = torch::cross_entropy_loss(logits, batch.targets);
    loss.backward();
    int64_t with_grad = 0;
    for (const auto& p : model->parameters()) with_grad += p.grad().defined() && p.grad().abs().sum().item<double>() > 0;
    CHECK(with_grad > 10);
  }
}

TEST_CASE("FusionNet cross: question token -> region maps [Q, heads, L, regions]", "[models][multimodal]") {
  torch::manual_seed(6);
  auto model = models::build_model(small_model("cross"), vqa_input(), "test");
  model->eval();
  auto batch = vqa_batch(5, 2, 8);
  auto out = model->forward_with_attention(batch);
  std::map<std::string, torch::Tensor> maps;
  for (const auto& m : out.attention) maps[m.name] = m.weights;
  // 32x32 input, stem stride 2 and two stride-2 stages: a 4x4 grid of regions.
  REQUIRE(maps.count("cross.layer0"));
  REQUIRE(maps.count("cross.layer1"));
  CHECK(maps["cross.layer1"].sizes() == std::vector<int64_t>{5, 2, 8, 16});
  CHECK(maps["relational.layer0"].sizes() == std::vector<int64_t>{2, 2, 16, 16});
  CHECK(maps["text.layer0"].sizes() == std::vector<int64_t>{5, 2, 8, 8});
  CHECK(torch::allclose(maps["cross.layer0"].sum(-1), torch::ones({5, 2, 8}), 1e-5, 1e-5));
  CHECK(torch::allclose(out.logits, model->forward(batch), 1e-5, 1e-6));
}

TEST_CASE("FusionNet: one encoding per image equals one image copy per question", "[models][multimodal]") {
  torch::manual_seed(7);
  for (const auto& fusion : kVariants) {
    INFO(fusion);
    auto model = models::build_model(variant(fusion), vqa_input(), "test");
    model->eval();
    auto shared = vqa_batch(6, 2, 9);
    auto copied = shared;
    const auto& index = shared.extra[focus::data::kBatchImageIndex];
    copied.extra[focus::data::kBatchImages] = shared.extra[focus::data::kBatchImages].index_select(0, index);
    copied.extra[focus::data::kBatchImageIndex] = torch::arange(6, torch::kLong);
    CHECK(torch::allclose(model->forward(shared), model->forward(copied), 1e-4, 1e-5));
  }
}

TEST_CASE("FusionNet: padding the questions to any length gives the same logits", "[models][multimodal]") {
  torch::manual_seed(8);
  for (const std::string fusion : {"cross", "cross conditioned"}) {
    INFO(fusion);
    auto model = models::build_model(variant(fusion), vqa_input(), "test");
    model->eval();
    auto batch = vqa_batch(4, 2, 7);
    auto longer = batch;
    longer.inputs = torch::cat({batch.inputs, torch::zeros({4, 5}, torch::kLong)}, 1);
    longer.mask = torch::cat({batch.mask, torch::zeros({4, 5}, torch::kBool)}, 1);
    CHECK(torch::allclose(model->forward(batch), model->forward(longer), 1e-4, 1e-5));
  }
}

TEST_CASE("FusionNet cross with conditioning blocks: each question sees its own copy of the regions", "[models][multimodal]") {
  torch::manual_seed(10);
  auto model = models::build_model(variant("cross conditioned"), vqa_input(), "test");
  model->eval();
  // Two questions about one image: maps per question token over the 16 regions.
  auto batch = vqa_batch(2, 1, 6);
  auto out = model->forward_with_attention(batch);
  std::map<std::string, torch::Tensor> maps;
  for (const auto& m : out.attention) maps[m.name] = m.weights;
  REQUIRE(maps.count("cross.layer0"));
  CHECK(maps["cross.layer0"].sizes() == std::vector<int64_t>{2, 2, 6, 16});
  CHECK(torch::allclose(maps["cross.layer0"].sum(-1), torch::ones({2, 2, 6}), 1e-5, 1e-5));
  // The conditioning is real: zeroing the FiLM generators changes the answer.
  auto before = model->forward(batch);
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters())
    if (p.key().find("condition_block") != std::string::npos && p.key().find("film.generator") != std::string::npos)
      p.value().zero_();
  CHECK_FALSE(torch::allclose(before, model->forward(batch), 1e-4, 1e-5));
  auto bad = variant("cross");
  bad["conditioning_blocks"] = -1;
  CHECK_THROWS_WITH(models::check_model_section(bad, "m"), Catch::Contains("conditioning_blocks"));
}

TEST_CASE("FiLM at identity initialisation leaves features unchanged; trained, it scales and shifts", "[nn][multimodal]") {
  torch::manual_seed(9);
  auto x = torch::randn({3, 6, 5, 5});
  auto z = torch::randn({3, 4});
  focus::nn::Film random_start(focus::nn::FilmOptions(6, 4));
  CHECK_FALSE(torch::allclose(random_start(x, z), x));  // the default generator modulates from the start
  focus::nn::Film film(focus::nn::FilmOptions(6, 4).identity_init(true));
  CHECK(torch::equal(film(x, z), x));
  // With a generator giving gamma - 1 = 1 and beta = 2 for channel 0 of every input:
  torch::NoGradGuard no_grad;
  film->generator->bias[0] = 1.0;
  film->generator->bias[6] = 2.0;
  auto y = film(x, z);
  CHECK(torch::allclose(y.select(1, 0), 2 * x.select(1, 0) + 2));
  CHECK(torch::equal(y.narrow(1, 1, 5), x.narrow(1, 1, 5)));
  CHECK_THROWS(film(x, torch::randn({3, 5})));
}

TEST_CASE("FusionNet options: unknown fusion, bad widths and a missing image batch are errors", "[models][multimodal]") {
  auto bad = small_model("cross");
  bad["fusion"] = "sum";
  CHECK_THROWS_WITH(models::check_model_section(bad, "m"), Catch::Contains("fusion"));
  bad = small_model("cross");
  bad["dim"] = 15;
  CHECK_THROWS_WITH(models::check_model_section(bad, "m"), Catch::Contains("multiple of heads"));
  bad = small_model("cross");
  bad["image"]["stem_stride"] = 3;
  CHECK_THROWS_WITH(models::check_model_section(bad, "m"), Catch::Contains("stem_stride"));
  auto model = models::build_model(small_model("concat"), vqa_input(), "test");
  auto batch = vqa_batch(2, 1, 5);
  batch.extra.clear();
  CHECK_THROWS_WITH(model->forward(batch), Catch::Contains("no images"));
}

TEST_CASE("FusionNet region positions: the Fourier encoding, computed by hand; film takes only coordinates",
          "[models][multimodal]") {
  // A 1 x 2 grid: x = -1, 1 and y = 0.
  auto coords = torch::tensor({-1.0f, 1.0f, 0.0f, 0.0f}).view({1, 2, 1, 2});
  auto f = models::fourier_positions(coords);
  REQUIRE(f.sizes() == torch::IntArrayRef({2, 4 * models::kRegionFrequencies}));
  // Per frequency k: sin(a_x), sin(a_y), cos(a_x), cos(a_y) with a = (pi k / 2) coordinate.
  for (int64_t k = 1; k <= models::kRegionFrequencies; ++k)
    for (int64_t r = 0; r < 2; ++r) {
      const double ax = (r == 0 ? -1.0 : 1.0) * M_PI * static_cast<double>(k) / 2.0;
      const int64_t c = 4 * (k - 1);
      CHECK(f[r][c].item<double>() == Approx(std::sin(ax)).margin(1e-6));
      CHECK(f[r][c + 1].item<double>() == Approx(0.0).margin(1e-6));
      CHECK(f[r][c + 2].item<double>() == Approx(std::cos(ax)).margin(1e-6));
      CHECK(f[r][c + 3].item<double>() == Approx(1.0).margin(1e-6));
    }
  // The dot product of two regions' encodings depends only on their offset.
  auto grid = torch::stack({torch::linspace(-1, 1, 5).view({1, 5}).expand({5, 5}),
                            torch::linspace(-1, 1, 5).view({5, 1}).expand({5, 5})}).unsqueeze(0);
  auto g = models::fourier_positions(grid);  // rows y * 5 + x
  CHECK(g[0].dot(g[6]).item<double>() == Approx(g[12].dot(g[18]).item<double>()).margin(1e-5));  // offset (1, 1)
  CHECK(g[0].dot(g[0]).item<double>() == Approx(2.0 * models::kRegionFrequencies).margin(1e-5));

  auto cross = models::parse_fusion_net_options(variant("cross fourier"), "m");
  CHECK(cross.region_positions == "fourier");
  CHECK(models::to_json(cross)["region_positions"] == "fourier");
  auto film = small_model("film");
  film["region_positions"] = "fourier";
  CHECK_THROWS_WITH(models::parse_fusion_net_options(film, "m"), Catch::Contains("takes only \"coords\""));
  auto bad = small_model("cross");
  bad["region_positions"] = "learned";
  CHECK_THROWS_WITH(models::parse_fusion_net_options(bad, "m"), Catch::Contains("region_positions"));
}
