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

/// The fusions to test: the four, cross with FiLM conditioning blocks ("cross conditioned"), cross
/// with Fourier region positions ("cross fourier") and cross with the focus bias ("cross focus").
const std::vector<std::string> kVariants = {"concat",           "late",          "film",          "cross",
                                            "cross conditioned", "cross fourier", "cross focus"};
Json variant(const std::string& name) {
  auto spec = small_model(name.substr(0, name.find(' ')));
  if (name == "cross conditioned") spec["conditioning_blocks"] = 2;
  if (name == "cross fourier") spec["region_positions"] = "fourier";
  if (name == "cross focus") spec["cross_focus_bias"] = true;
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

TEST_CASE("FusionNet focus bias: focus features by hand; the coefficients steer a head to the focus, the furthest "
          "region or the closest one off the focus", "[models][multimodal]") {
  // A 2 x 3 grid: cells (column, row) row-major.
  auto cells = models::region_cells(2, 3, torch::TensorOptions(torch::kFloat));
  CHECK(torch::equal(cells, torch::tensor({0.f, 0.f, 1.f, 0.f, 2.f, 0.f, 0.f, 1.f, 1.f, 1.f, 2.f, 1.f}).view({6, 2})));
  // Head 0 attends to cell (0, 0), head 1 half to (1, 1) and half to (2, 1): the mean attention is
  // 0.5, 0.25, 0.25 there, so the focus is (0.75, 0.5).
  auto weights = torch::zeros({1, 2, 1, 6});
  weights[0][0][0][0] = 1;
  weights[0][1][0][4] = 0.5;
  weights[0][1][0][5] = 0.5;
  auto f = models::focus_features(weights, cells);
  REQUIRE(f.sizes() == torch::IntArrayRef({1, 1, 6, models::kFocusFeatures}));
  const double share[6] = {1.0, 0.0, 0.0, 0.0, 0.5, 0.5};  // attention relative to its maximum
  for (int64_t r = 0; r < 6; ++r) {
    const double dx = static_cast<double>(r % 3) - 0.75, dy = static_cast<double>(r / 3) - 0.5;
    CHECK(f[0][0][r][0].item<double>() == Approx(std::sqrt(dx * dx + dy * dy)).margin(1e-4));
    CHECK(f[0][0][r][1].item<double>() == Approx(share[r]).margin(1e-6));
  }
  CHECK_THROWS(models::focus_features(weights, cells.narrow(0, 0, 5)));

  torch::manual_seed(21);
  models::CrossLayer plain(8, 2, 0.0), biased(8, 2, 0.0, true);
  REQUIRE(biased->focus_coefficients);
  CHECK(biased->focus_coefficients->weight.abs().sum().item<double>() == 0.0);  // zero at the start
  CHECK(biased->focus_coefficients->bias.abs().sum().item<double>() == 0.0);
  {
    torch::NoGradGuard no_grad;
    auto from = plain->named_parameters();
    for (auto& p : biased->named_parameters())
      if (from.contains(p.key())) p.value().copy_(from[p.key()]);
  }
  auto tokens = torch::randn({3, 4, 8});
  auto padding = torch::zeros({3, 4}, torch::kBool);
  auto regions = torch::randn({2, 6, 8});
  auto index = torch::tensor({0, 1, 1}, torch::kLong);
  // Distances 0 .. 5 a cell apart; the layer before attended to the region at 0.
  auto distance = std::get<1>(torch::rand({3, 4, 6}).sort(-1)).to(torch::kFloat);
  auto features = torch::stack({distance, (distance == 0).to(torch::kFloat)}, -1);
  // With zero coefficients it is the plain layer.
  auto a = plain->forward(tokens, padding, regions, index);
  auto b = biased->forward(tokens, padding, regions, index, features);
  CHECK(torch::allclose(a.output, b.output, 1e-5, 1e-6));
  CHECK_THROWS_WITH(plain->forward(tokens, padding, regions, index, features), Catch::Contains("without a focus bias"));
  CHECK_THROWS_WITH(biased->forward(tokens, padding, regions, index), Catch::Contains("missing"));

  // Steep coefficients (the linear map's bias; per head: distance, previous attention).
  auto steer = [&](float on_distance, float on_previous) {
    {
      torch::NoGradGuard no_grad;
      biased->focus_coefficients->bias.copy_(torch::tensor({on_distance, on_previous, on_distance, on_previous}));
    }
    return biased->forward(tokens, padding, regions, index, features).weights.argmax(-1);  // [Q, H, L]
  };
  auto expect = [](const torch::Tensor& regions_of_tokens, const torch::Tensor& got) {
    return torch::equal(got, regions_of_tokens.unsqueeze(1).expand_as(got));
  };
  CHECK(expect(distance.argmin(-1), steer(-200, 0)));                // the focus itself
  CHECK(expect(distance.argmax(-1), steer(200, 0)));                 // the furthest region
  CHECK(expect((distance - 1).abs().argmin(-1), steer(-50, -500)));  // the closest one that is not the focus

  // The option: read, written back, only a boolean; only layers after the first get coefficients.
  auto o = models::parse_fusion_net_options(variant("cross focus"), "m");
  CHECK(o.cross_focus_bias);
  CHECK(models::to_json(o)["cross_focus_bias"] == true);
  CHECK_FALSE(models::parse_fusion_net_options(variant("cross"), "m").cross_focus_bias);
  auto bad = small_model("cross");
  bad["cross_focus_bias"] = "yes";
  CHECK_THROWS_WITH(models::parse_fusion_net_options(bad, "m"), Catch::Contains("cross_focus_bias"));
  auto film = small_model("film");
  film["cross_focus_bias"] = true;
  CHECK_THROWS_WITH(models::parse_fusion_net_options(film, "m"), Catch::Contains("needs the cross fusion"));
  auto one_layer = variant("cross focus");
  one_layer["cross_layers"] = 1;
  CHECK_THROWS_WITH(models::parse_fusion_net_options(one_layer, "m"), Catch::Contains("cross_layers >= 2"));
  o.text.vocab_size = 20;
  o.text.max_length = 16;
  auto net = std::make_shared<models::FusionNetImpl>(o);
  CHECK_FALSE(net->cross_layers[0]->focus_coefficients);
  CHECK(net->cross_layers[1]->focus_coefficients);
}
