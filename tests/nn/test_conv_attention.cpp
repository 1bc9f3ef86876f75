// SqueezeExcitation, Cbam and NonLocal against direct computations.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/cbam.h"
#include "focus/nn/non_local.h"
#include "focus/nn/squeeze_excitation.h"
#include "thread_count.h"

using namespace focus::nn;

TEST_CASE("SqueezeExcitation rescales channels by sigmoid(MLP(mean))", "[nn]") {
  torch::manual_seed(0);
  SqueezeExcitation se(SqueezeExcitationOptions(8).reduction(2));
  auto x = torch::randn({2, 8, 5, 5});
  auto out = se(x);
  auto s = x.mean({2, 3});
  auto h = torch::relu(torch::matmul(s, se->fc1->weight.t()) + se->fc1->bias);
  auto w = torch::sigmoid(torch::matmul(h, se->fc2->weight.t()) + se->fc2->bias);
  CHECK(se->fc1->weight.size(0) == 4);
  CHECK(torch::allclose(out.weights, w, 1e-6, 1e-6));
  CHECK(torch::allclose(out.output, x * w.view({2, 8, 1, 1}), 1e-6, 1e-6));
  CHECK(((out.weights > 0) & (out.weights < 1)).all().item<bool>());
}

TEST_CASE("Cbam applies channel then spatial attention", "[nn]") {
  torch::manual_seed(1);
  Cbam cbam(CbamOptions(8).reduction(4));
  auto x = torch::randn({2, 8, 6, 7});
  auto out = cbam(x);
  auto mlp = [&](const torch::Tensor& v) {
    return torch::matmul(torch::relu(torch::matmul(v, cbam->fc1->weight.t()) + cbam->fc1->bias), cbam->fc2->weight.t()) +
           cbam->fc2->bias;
  };
  auto cw = torch::sigmoid(mlp(x.mean({2, 3})) + mlp(x.amax({2, 3})));
  auto refined = x * cw.view({2, 8, 1, 1});
  auto desc = torch::cat({refined.mean(1, true), refined.amax(1, true)}, 1);
  auto sm = torch::sigmoid(torch::conv2d(desc, cbam->spatial->weight, {}, 1, 3));
  CHECK(out.spatial_map.sizes() == torch::IntArrayRef({2, 1, 6, 7}));
  CHECK(torch::allclose(out.channel_weights, cw, 1e-6, 1e-6));
  CHECK(torch::allclose(out.spatial_map, sm, 1e-5, 1e-6));
  CHECK(torch::allclose(out.output, refined * sm, 1e-5, 1e-6));
  CHECK_THROWS_AS(Cbam(CbamOptions(8).spatial_kernel(4)), c10::Error);
}

TEST_CASE("NonLocal starts as the identity and exposes a row-stochastic affinity", "[nn]") {
  torch::manual_seed(2);
  NonLocal block(NonLocalOptions(6));
  auto x = torch::randn({2, 6, 3, 4});
  block->eval();
  auto out = block(x);
  CHECK(out.affinity.sizes() == torch::IntArrayRef({2, 12, 12}));
  CHECK(torch::allclose(out.affinity.sum(-1), torch::ones({2, 12}), 1e-5, 1e-6));
  CHECK(torch::allclose(out.output, x));  // W_z's batch norm starts at zero
  // Reference affinity: softmax(theta^T phi) with 1x1 convolutions as matrix products.
  auto flat = x.flatten(2);  // [B, C, HW]
  auto proj = [&](torch::nn::Conv2d& c) {
    return torch::matmul(c->weight.squeeze(-1).squeeze(-1), flat) + c->bias.view({1, -1, 1});
  };
  auto ref = torch::softmax(torch::bmm(proj(block->theta).transpose(1, 2), proj(block->phi)), -1);
  CHECK(torch::allclose(out.affinity, ref, 1e-5, 1e-6));
  // Once W_z is non-zero the block changes its input.
  {
    torch::NoGradGuard g;
    block->bn->weight.fill_(1.0);
  }
  CHECK_FALSE(torch::allclose(block(x).output, x));
}

namespace {
// The module's parameters in registration order (fc1, fc2, spatial).
std::vector<torch::Tensor> cbam_parameters(Cbam& cbam) {
  return {cbam->fc1->weight, cbam->fc1->bias, cbam->fc2->weight, cbam->fc2->bias, cbam->spatial->weight};
}
}  // namespace

TEST_CASE("Cbam's fused path (channels-last float32) matches the composed one forward and backward", "[nn]") {
  // 8 images of 16x16x24 values: at 2 threads the loops split the batch (chunks of 2 images).
  focus::testing::ThreadCount threads(2);
  torch::manual_seed(3);
  Cbam cbam(CbamOptions(24).reduction(4));
  // Ties in the maxima (a constant channel and a repeated row) exercise the first-index rule.
  auto x0 = torch::randn({8, 24, 16, 16});
  x0.select(1, 2).fill_(0.5);
  x0.select(2, 3).copy_(x0.select(2, 1));
  auto x_fused = x0.contiguous(at::MemoryFormat::ChannelsLast).requires_grad_(true);
  auto x_plain = x0.clone().requires_grad_(true);  // contiguous NCHW: the composed path
  auto fused = cbam(x_fused);
  auto plain = cbam(x_plain);
  CHECK(torch::allclose(fused.output, plain.output, 1e-5, 1e-6));
  CHECK(torch::allclose(fused.channel_weights, plain.channel_weights, 1e-5, 1e-6));
  CHECK(torch::allclose(fused.spatial_map, plain.spatial_map, 1e-5, 1e-6));
  // A loss on all three outputs, so the maps' own gradients are used too.
  auto g = torch::randn(x0.sizes()), gc = torch::randn({8, 24}), gs = torch::randn({8, 1, 16, 16});
  auto loss = [&](const CbamOutput& o) {
    return (o.output * g).sum() + (o.channel_weights * gc).sum() + (o.spatial_map * gs).sum();
  };
  auto params = cbam_parameters(cbam);
  std::vector<torch::Tensor> wrt_fused = {x_fused}, wrt_plain = {x_plain};
  wrt_fused.insert(wrt_fused.end(), params.begin(), params.end());
  wrt_plain.insert(wrt_plain.end(), params.begin(), params.end());
  auto got = torch::autograd::grad({loss(fused)}, wrt_fused);
  auto want = torch::autograd::grad({loss(plain)}, wrt_plain);
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("input " << i << ", largest difference " << (got[i] - want[i]).abs().max().item<double>());
    CHECK(torch::allclose(got[i], want[i], 1e-4, 1e-5));
  }
}

TEST_CASE("Cbam's fused path keeps second derivatives", "[nn]") {
  torch::manual_seed(4);
  Cbam cbam(CbamOptions(8).reduction(2));
  auto x0 = torch::randn({2, 8, 4, 4});
  auto x_fused = x0.contiguous(at::MemoryFormat::ChannelsLast).requires_grad_(true);
  auto x_plain = x0.clone().requires_grad_(true);
  auto g1 = torch::autograd::grad({cbam(x_fused).output.pow(2).sum()}, {x_fused}, {}, true, true)[0];
  auto g2 = torch::autograd::grad({cbam(x_plain).output.pow(2).sum()}, {x_plain}, {}, true, true)[0];
  REQUIRE(torch::allclose(g1, g2, 1e-4, 1e-5));
  auto gg1 = torch::autograd::grad({g1.pow(2).sum()}, {x_fused})[0];
  auto gg2 = torch::autograd::grad({g2.pow(2).sum()}, {x_plain})[0];
  CHECK(torch::allclose(gg1, gg2, 1e-3, 1e-4));
}
