// AttentionPool against a direct computation of softmax(a_i . w) weighting.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/attention_pool.h"

using focus::nn::AttentionPool;
using focus::nn::AttentionPoolOptions;

TEST_CASE("AttentionPool matches the additive-attention formula", "[nn]") {
  torch::manual_seed(0);
  AttentionPool pool(AttentionPoolOptions(4));
  auto a = torch::randn({2, 5, 4});
  auto out = pool(a);
  auto w = pool->score->weight.squeeze(0);  // [4]
  auto alpha = torch::softmax(torch::matmul(a, w), 1);
  auto z = (alpha.unsqueeze(-1) * a).sum(1);
  CHECK(out.weights.sizes() == torch::IntArrayRef({2, 5}));
  CHECK(out.pooled.sizes() == torch::IntArrayRef({2, 4}));
  CHECK(torch::allclose(out.weights, alpha, 1e-6, 1e-6));
  CHECK(torch::allclose(out.pooled, z, 1e-5, 1e-6));
  CHECK(torch::allclose(out.weights.sum(1), torch::ones({2}), 1e-6, 1e-6));
}

TEST_CASE("AttentionPool gives masked positions zero weight", "[nn]") {
  torch::manual_seed(1);
  AttentionPool pool(AttentionPoolOptions(3));
  auto a = torch::randn({2, 4, 3});
  auto mask = torch::tensor({1, 1, 0, 0, 0, 0, 0, 0}, torch::kBool).view({2, 4});
  auto out = pool(a, mask);
  CHECK(out.weights[0][2].item<float>() == 0.0f);
  CHECK(out.weights[0][3].item<float>() == 0.0f);
  CHECK(out.weights[0].sum().item<float>() == Approx(1.0f));
  // Same result as pooling only the kept prefix.
  auto prefix = pool(a.index({torch::indexing::Slice(0, 1), torch::indexing::Slice(0, 2)}));
  CHECK(torch::allclose(out.pooled[0], prefix.pooled[0], 1e-5, 1e-6));
  // A fully masked row gives zeros, not NaN.
  CHECK(out.weights[1].abs().sum().item<float>() == 0.0f);
  CHECK_FALSE(out.pooled.isnan().any().item<bool>());
}

TEST_CASE("AttentionPool rejects wrong shapes", "[nn]") {
  AttentionPool pool(AttentionPoolOptions(3));
  CHECK_THROWS_AS(pool(torch::randn({2, 4, 5})), c10::Error);
  CHECK_THROWS_AS(pool(torch::randn({2, 4, 3}), torch::ones({2, 3}, torch::kBool)), c10::Error);
}
