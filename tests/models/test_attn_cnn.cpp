// AttnCNN: shapes, attention maps, factory errors, the recipe's parameter budget.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/models/attn_cnn.h"
#include "focus/models/factory.h"
#include "focus/util/error.h"
#include "focus/util/json_reader.h"

using focus::util::Json;

TEST_CASE("AttnCNN produces logits and every attention map", "[models]") {
  Json spec = {{"arch", "attncnn"},
               {"stem_channels", 8},
               {"stages", {{{"channels", 8}, {"attention", "se"}, {"stride", 1}},
                           {{"channels", 16}, {"attention", "cbam"}},
                           {{"channels", 16}, {"attention", "nonlocal"}, {"blocks", 2}}}}};
  auto model = focus::models::build_model(spec, focus::models::image_input(3, 7), "model");
  model->eval();
  focus::data::Batch batch;
  batch.inputs = torch::randn({2, 3, 28, 28});
  auto out = model->forward_with_attention(batch);
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 7}));
  std::vector<std::string> names;
  for (const auto& a : out.attention) names.push_back(a.name);
  CHECK(names == std::vector<std::string>{"stage1.block0.se.channel", "stage2.block0.cbam.channel",
                                          "stage2.block0.cbam.spatial", "stage3.block0.nonlocal.affinity",
                                          "stage3.block1.nonlocal.affinity", "head.attention_pool"});
  CHECK(out.attention[2].weights.sizes() == torch::IntArrayRef({2, 1, 14, 14}));
  CHECK(out.attention[3].weights.sizes() == torch::IntArrayRef({2, 49, 49}));
  auto pool = out.attention.back().weights;
  CHECK(pool.sizes() == torch::IntArrayRef({2, 1, 7, 7}));
  CHECK(torch::allclose(pool.sum({1, 2, 3}), torch::ones({2}), 1e-5, 1e-6));
  CHECK(torch::allclose(model->forward(batch), out.logits, 1e-5, 1e-6));
}

TEST_CASE("AttnCNN gradients reach every parameter", "[models]") {
  auto model = focus::models::build_model({{"arch", "attncnn"}}, focus::models::image_input(1, 10), "model");
  focus::data::Batch batch;
  batch.inputs = torch::randn({4, 1, 28, 28});
  model->forward(batch).sum().backward();
  for (const auto& p : model->named_parameters()) {
    INFO(p.key());
    REQUIRE(p.value().grad().defined());
    CHECK(p.value().grad().abs().sum().item<double>() > 0);
  }
}

TEST_CASE("The factory rejects bad model sections with the key path", "[models]") {
  using focus::models::build_model;
  CHECK_THROWS_WITH(build_model({{"arch", "resnet9000"}}, focus::models::image_input(1, 10), "recipe r.json: model"),
                    Catch::Contains("recipe r.json: model.arch") && Catch::Contains("unknown architecture"));
  CHECK_THROWS_WITH(build_model({{"arch", "attncnn"}, {"stages", {{{"channels", 8}, {"attention", "magic"}}}}},
                                focus::models::image_input(1, 10), "m"),
                    Catch::Contains("m.stages[0].attention"));
  CHECK_THROWS_WITH(build_model({{"arch", "attncnn"}, {"dropuot", 0.1}}, focus::models::image_input(1, 10), "m"),
                    Catch::Contains("unknown key 'dropuot'"));
  CHECK_THROWS_AS(build_model({{"arch", "attncnn"}, {"dropout", "high"}}, focus::models::image_input(1, 10), "m"), focus::Error);
}
