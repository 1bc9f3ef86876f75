// Faithfulness and image + text explanations: deletion/insertion curves and
// areas against hand-computed values, orders, the image baseline, the bi-modal
// relevance rule of Chefer et al., FusionNet's methods and map sizes, and the
// page of explained questions (per-word overlays, question spans).
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <filesystem>

#include "focus/data/multimodal_batch_source.h"
#include "focus/explain/faithfulness.h"
#include "focus/explain/image_heatmap_page.h"
#include "focus/explain/question_explainer.h"
#include "focus/models/factory.h"
#include "focus/util/atomic_file.h"
#include "focus/util/error.h"
#include "focus/util/json_reader.h"
#include "temp_dir.h"

using namespace focus::explain;
using focus::util::Json;
namespace models = focus::models;

namespace {

/// A toy model over 4 units: units 0 and 1 carry 0.6 and 0.4 of the probability.
torch::Tensor toy(const torch::Tensor& keep) {
  auto k = keep.to(torch::kFloat);
  return 0.6 * k.select(1, 0) + 0.4 * k.select(1, 1);
}

models::InputSpec vqa_input() {
  models::InputSpec s;
  s.channels = 3;
  s.height = s.width = 32;
  s.num_classes = 7;
  s.vocab_size = 20;
  s.max_length = 16;
  return s;
}

Json small_fusion(const std::string& fusion) {
  return Json::parse(R"({"arch": "fusion", "fusion": ")" + fusion + R"(",
    "image": {"stem_channels": 8, "stem_stride": 2, "stages": [{"channels": 8, "stride": 2}, {"channels": 16, "stride": 2}]},
    "text": {"dim": 16, "layers": 1, "heads": 2, "dropout": 0.0},
    "dim": 16, "heads": 2, "relational_layers": 1, "cross_layers": 2, "film_blocks": 1, "hidden": 24, "dropout": 0.0})");
}

/// One question of `length` tokens about one 32x32 image.
focus::data::Batch one_question(int64_t length) {
  focus::data::Batch b;
  b.inputs = torch::randint(5, 20, {1, length});
  b.inputs[0][0] = focus::data::SpecialTokens::cls;
  b.mask = torch::ones({1, length}, torch::kBool);
  b.extra[focus::data::kBatchImages] = torch::randn({1, 3, 32, 32});
  b.extra[focus::data::kBatchImageIndex] = torch::zeros({1}, torch::kLong);
  return b;
}

}  // namespace

TEST_CASE("deletion and insertion: curves and areas of a known model, hand-computed", "[explain][faithfulness]") {
  FaithfulnessOptions o;
  o.steps = 4;
  auto best = deletion_insertion(toy, {0, 1, 2, 3}, o);
  CHECK(best.fraction == std::vector<double>{0, 0.25, 0.5, 0.75, 1});
  CHECK_THAT(best.deletion, Catch::Matchers::Approx(std::vector<double>{1.0, 0.4, 0, 0, 0}));
  CHECK_THAT(best.insertion, Catch::Matchers::Approx(std::vector<double>{0, 0.6, 1, 1, 1}));
  CHECK(best.deletion_auc == Approx(0.225));
  CHECK(best.insertion_auc == Approx(0.775));
  auto worst = deletion_insertion(toy, {3, 2, 1, 0}, o);
  CHECK(worst.deletion_auc == Approx(0.775));
  CHECK(worst.insertion_auc == Approx(0.225));
  // Fewer units than steps: one step per unit; small batches give the same curves.
  o.steps = 50;
  o.batch_size = 3;
  auto small_batches = deletion_insertion(toy, {0, 1, 2, 3}, o);
  CHECK(small_batches.fraction.size() == 5);
  CHECK(small_batches.deletion_auc == Approx(0.225));
  CHECK_THROWS_WITH(deletion_insertion(toy, {0, 1, 1, 3}, o), Catch::Contains("not a permutation"));
  CHECK_THROWS_WITH(deletion_insertion(toy, {}, o), Catch::Contains("no units"));
  CHECK(area_under({0, 0.5, 1}, {1, 1, 0}) == Approx(0.75));
}

TEST_CASE("orders: salience descending with stable ties; random orders are seeded permutations", "[explain][faithfulness]") {
  CHECK(salience_order(torch::tensor({0.1f, 0.9f, 0.5f, 0.9f})) == std::vector<int64_t>{1, 3, 2, 0});
  CHECK(salience_order(torch::tensor({{0.0f, 2.0f}, {1.0f, 3.0f}})) == std::vector<int64_t>{3, 1, 2, 0});
  auto a = random_order(100, 7), b = random_order(100, 7), c = random_order(100, 8);
  CHECK(a == b);
  CHECK(a != c);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) CHECK(sorted[static_cast<size_t>(i)] == i);
}

TEST_CASE("image units: absent pixels take the per-channel baseline, all channels together", "[explain][faithfulness]") {
  auto image = torch::arange(8, torch::kFloat).view({2, 2, 2});  // [C=2, H=2, W=2]
  torch::Tensor seen;
  auto fn = image_units(
      [&seen](const torch::Tensor& images) {
        seen = images.clone();
        return torch::ones({images.size(0), 3});
      },
      image, 1, torch::tensor({-1.0f, -2.0f}));
  auto p = fn(torch::tensor({{true, false, true, true}, {false, false, false, false}}));
  CHECK(p.sizes() == torch::IntArrayRef{2});
  CHECK(torch::equal(seen[0][0], torch::tensor({{0.0f, -1.0f}, {2.0f, 3.0f}})));
  CHECK(torch::equal(seen[0][1], torch::tensor({{4.0f, -2.0f}, {6.0f, 7.0f}})));
  CHECK(torch::equal(seen[1][1], torch::full({2, 2}, -2.0f)));
  CHECK_THROWS_WITH(image_units([](const torch::Tensor& x) { return x; }, image, 0, torch::zeros({3})),
                    Catch::Contains("3 values for 2 channels"));
}

TEST_CASE("bi-modal relevance (Chefer et al. eq. 10): R_ti + bar(R_tt)^T A bar(R_ii), hand-computed", "[explain][faithfulness]") {
  auto a = torch::tensor({{1.0f, 0.0f, 0.0f}, {0.0f, 1.0f, 0.0f}});
  // Identity self-relevances leave A unchanged.
  CHECK(torch::allclose(cross_relevance_update(torch::zeros({2, 3}), torch::eye(2), a, torch::eye(3)), a));
  // R_tt = [[1.5, 0.5], [0, 1]]: R - I = [[0.5, 0.5], [0, 0]], rows normalised the same, + I gives it back;
  // its transpose [[1.5, 0], [0.5, 1]] times A.
  auto r_tt = torch::tensor({{1.5f, 0.5f}, {0.0f, 1.0f}});
  auto expected = torch::tensor({{1.5f, 0.0f, 0.0f}, {0.5f, 1.0f, 0.0f}});
  CHECK(torch::allclose(cross_relevance_update(torch::zeros({2, 3}), r_tt, a, torch::eye(3)), expected));
  // R_ii = [[2, 0, 0], [0, 1, 0], [0, 1, 1]]: R - I = [[1,0,0],[0,0,0],[0,1,0]] -> rows [[1,0,0],[0,0,0],[0,1,0]] + I.
  auto r_ii = torch::tensor({{2.0f, 0.0f, 0.0f}, {0.0f, 1.0f, 0.0f}, {0.0f, 1.0f, 1.0f}});
  auto start = torch::ones({2, 3});
  CHECK(torch::allclose(cross_relevance_update(start, torch::eye(2), a, r_ii), start + a.matmul(r_ii)));
}

TEST_CASE("explain_question: methods per fusion, maps over the region grid, one per question token", "[explain][multimodal]") {
  torch::manual_seed(3);
  for (const char* fusion : {"cross", "concat", "late", "film"}) {
    INFO(fusion);
    auto model = models::build_model(small_fusion(fusion), vqa_input(), "test");
    model->eval();
    auto batch = one_question(6);
    for (const auto& method : question_methods(fusion)) {
      INFO(method);
      auto q = explain_question(*model, fusion, batch, method, 2);
      if (method == "occlusion") {
        CHECK(q.map.sizes() == torch::IntArrayRef{32, 32});
      } else {
        CHECK(q.map.sizes() == torch::IntArrayRef{4, 4});  // 32 / (stem 2 * 2 * 2)
      }
      CHECK(torch::isfinite(q.map).all().item<bool>());
      const bool per_token = std::string(fusion) == "cross" && (method == "attention" || method == "grad_rollout");
      CHECK(q.per_token.size() == (per_token ? 5u : 0u));
      if (method == "attention" && std::string(fusion) == "cross") {
        CHECK(q.map.sum().item<double>() == Approx(1.0).epsilon(1e-4));  // a softmax row over the regions
      }
      if (method == "grad_rollout") {
        CHECK((q.map >= 0).all().item<bool>());
        CHECK(q.map.sum().item<double>() > 0);
      }
    }
  }
  auto model = models::build_model(small_fusion("film"), vqa_input(), "test");
  CHECK_THROWS_WITH(explain_question(*model, "film", one_question(4), "attention", 0),
                    Catch::Contains("methods that do: gradcam, occlusion"));
  auto cross = models::build_model(small_fusion("cross"), vqa_input(), "test");
  ExplainOptions o;
  o.layer = "cross.layer7";
  CHECK_THROWS_WITH(explain_question(*cross, "cross", one_question(4), "attention", 0, o),
                    Catch::Contains("cross.layer0, cross.layer1"));
  o.layer = "cross.layer0";
  o.head = 1;
  CHECK(explain_question(*cross, "cross", one_question(4), "attention", 0, o).source == "cross.layer0 head 1");
}

TEST_CASE("question pages: an overlay per word, a strip, spans that reproduce the question", "[explain][multimodal]") {
  focus::testing::TempDir dir;
  ExplainedImage ex;
  ex.id = "00000";
  ex.label = "yes";
  ex.predicted = ex.target = "no";
  ex.predicted_probability = ex.probability = 0.75;
  ex.pixels = torch::zeros({12, 12, 3}, torch::kUInt8);
  ex.question = "Is the <red> object left?";
  ex.words = {{5, 0, 2}, {6, 3, 6}, {7, 7, 12}, {8, 13, 19}, {9, 20, 24}, {10, 24, 25}};
  std::vector<torch::Tensor> words;
  for (int k = 0; k < 6; ++k) words.push_back(torch::rand({3, 3}));
  ex.maps.push_back({"attention", torch::rand({3, 3}), "cross.layer1", words});
  ex.maps.push_back({"gradcam", torch::rand({3, 3}), "image.grid", {}});
  auto summary = write_image_heatmaps(dir.path(), Json::object(), "test", {"attention", "gradcam"}, {ex});
  for (int k = 0; k < 6; ++k) CHECK(std::filesystem::exists(dir.path() / ("00000-attention-w" + std::to_string(k) + ".png")));
  CHECK(std::filesystem::exists(dir.path() / "00000-attention-words.png"));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "00000-gradcam-w0.png"));
  auto html = focus::util::read_file(summary.index_html);
  CHECK(html.find("<span class=\"w\" data-k=\"0\">Is</span> <span class=\"w\" data-k=\"1\">the</span> <span class=\"w\" data-k=\"2\">&lt;red&gt;</span>") !=
        std::string::npos);
  CHECK(html.find("data-base=\"00000-attention\"") != std::string::npos);
  auto json = Json::parse(focus::util::read_file((dir.path() / "heatmaps.json").string()));
  CHECK(json["examples"][0]["question"] == ex.question);
  CHECK(json["examples"][0]["words"][2]["token"] == "<red>");
  CHECK(json["examples"][0]["maps"]["attention"]["words"].size() == 6);
  // A map with a word count that does not match the question is an error, not a broken page.
  ex.maps[0].per_word.pop_back();
  CHECK_THROWS_WITH(write_image_heatmaps(dir.path() / "bad", Json::object(), "test", {"attention"}, {ex}),
                    Catch::Contains("5 word maps for 6 words"));
}
