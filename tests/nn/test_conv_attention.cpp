// SqueezeExcitation, Cbam and NonLocal against direct computations.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/cbam.h"
#include "focus/nn/non_local.h"
#include "focus/nn/squeeze_excitation.h"

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
