// AttentionPool against a direct computation of softmax(a_i . w) weighting.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/attention_pool.h"
#include "thread_count.h"

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

namespace {
// The additive-attention formula in ATen operators, for comparison with the module's own loops.
std::pair<torch::Tensor, torch::Tensor> reference_pool(const torch::Tensor& a, const torch::Tensor& w) {
  auto alpha = torch::softmax(torch::matmul(a, w), 1);
  return {(alpha.unsqueeze(-1) * a).sum(1), alpha};
}
}  // namespace

TEST_CASE("AttentionPool's one-sweep path matches ATen's formula forward and backward", "[nn]") {
  // 80 sets of 12 x 24 values: at 2 threads the loops split the batch (chunks of 56 sets).
  focus::testing::ThreadCount threads(2);
  torch::manual_seed(2);
  AttentionPool pool(AttentionPoolOptions(24));
  // A channels-last feature map's positions, as the AttnCNN pools them: [B, H*W, C], contiguous.
  auto map = torch::randn({80, 24, 3, 4}).contiguous(at::MemoryFormat::ChannelsLast).requires_grad_(true);
  auto a = map.flatten(2).transpose(1, 2);
  REQUIRE(a.is_contiguous());
  auto out = pool(a);
  auto ref_map = map.detach().clone().requires_grad_(true);
  auto ref_w = pool->score->weight.detach().clone().requires_grad_(true);
  auto ref = reference_pool(ref_map.flatten(2).transpose(1, 2), ref_w.view({-1}));
  CHECK(torch::allclose(out.pooled, ref.first, 1e-5, 1e-6));
  CHECK(torch::allclose(out.weights, ref.second, 1e-5, 1e-6));
  // A loss on both outputs, so that the weights' own gradient is used too.
  auto g_pooled = torch::randn({80, 24}), g_weights = torch::randn({80, 12});
  ((out.pooled * g_pooled).sum() + (out.weights * g_weights).sum()).backward();
  ((ref.first * g_pooled).sum() + (ref.second * g_weights).sum()).backward();
  CHECK(torch::allclose(map.grad(), ref_map.grad(), 1e-4, 1e-6));
  CHECK(torch::allclose(pool->score->weight.grad(), ref_w.grad(), 1e-4, 1e-5));
}

TEST_CASE("AttentionPool's one-sweep path keeps second derivatives", "[nn]") {
  torch::manual_seed(3);
  AttentionPool pool(AttentionPoolOptions(6));
  auto a = torch::randn({3, 4, 6}, torch::requires_grad());
  auto ref_a = a.detach().clone().requires_grad_(true);
  auto w = pool->score->weight.view({-1});
  auto g = torch::autograd::grad({pool(a).pooled.pow(2).sum()}, {a}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
  auto ref_g = torch::autograd::grad({reference_pool(ref_a, w).first.pow(2).sum()}, {ref_a}, {}, true, true)[0];
  REQUIRE(torch::allclose(g, ref_g, 1e-4, 1e-6));
  auto gg = torch::autograd::grad({g.sum()}, {a})[0];
  auto ref_gg = torch::autograd::grad({ref_g.sum()}, {ref_a})[0];
  CHECK(torch::allclose(gg, ref_gg, 1e-4, 1e-5));
}
