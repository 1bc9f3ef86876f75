// focus::nn::conv2d: oneDNN for the batch-1 convolutions ATen sends to its
// native path, the module's forward everywhere else, the same values either way.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/conv2d.h"

using focus::nn::conv2d;
using focus::nn::uses_onednn_directly;

namespace {

torch::nn::Conv2d make_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool bias) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(bias));
}

}  // namespace

TEST_CASE("conv2d takes oneDNN only for single small images without autograd", "[nn]") {
  if (!at::hasMKLDNN()) {
    WARN("this LibTorch has no oneDNN: conv2d is the module's forward");
    return;
  }
  torch::manual_seed(0);
  auto conv = make_conv(64, 64, 3, 1, false);
  const auto one = torch::randn({1, 64, 14, 14});
  {
    torch::NoGradGuard no_grad;
    CHECK(uses_onednn_directly(*conv, one));
    CHECK_FALSE(uses_onednn_directly(*conv, torch::randn({2, 64, 14, 14})));       // ATen's oneDNN path already
    CHECK_FALSE(uses_onednn_directly(*conv, torch::randn({1, 64, 32, 32})));       // large: the same
    CHECK_FALSE(uses_onednn_directly(*conv, one.to(torch::kDouble)));              // oneDNN here is float32
    CHECK_FALSE(uses_onednn_directly(*make_conv(64, 64, 1, 1, false), one));        // 1x1: native is faster
    CHECK_FALSE(uses_onednn_directly(*make_conv(8, 64, 3, 1, false), torch::randn({1, 8, 14, 14})));  // few channels
    auto reflect = torch::nn::Conv2d(torch::nn::Conv2dOptions(64, 64, 3).padding(1).padding_mode(torch::kReflect));
    CHECK_FALSE(uses_onednn_directly(*reflect, one));
  }
  CHECK_FALSE(uses_onednn_directly(*conv, one));  // grad mode, parameters that need gradients
  torch::InferenceMode inference;
  CHECK(uses_onednn_directly(*conv, one));
}

TEST_CASE("conv2d gives the module's output on the oneDNN path", "[nn]") {
  torch::manual_seed(1);
  for (const bool channels_last : {false, true}) {
    for (const bool bias : {false, true}) {
      for (const int64_t stride : {1, 2}) {
        auto conv = make_conv(32, 48, 3, stride, bias);
        auto x = torch::randn({1, 32, 14, 14});
        if (channels_last) {
          conv->weight.set_data(conv->weight.contiguous(at::MemoryFormat::ChannelsLast));
          x = x.contiguous(at::MemoryFormat::ChannelsLast);
        }
        torch::InferenceMode inference;
        const auto expected = conv->forward(x);
        const auto got = conv2d(conv, x);
        INFO("channels_last " << channels_last << ", bias " << bias << ", stride " << stride);
        REQUIRE(got.sizes() == expected.sizes());
        CHECK(torch::allclose(got, expected, 1e-4, 1e-4));
        if (channels_last) CHECK(got.is_contiguous(at::MemoryFormat::ChannelsLast));
      }
    }
  }
}

TEST_CASE("conv2d in a graph is the module's forward, gradients included", "[nn]") {
  torch::manual_seed(2);
  auto conv = make_conv(16, 16, 3, 1, true);
  auto x = torch::randn({1, 16, 10, 10}, torch::requires_grad());
  conv2d(conv, x).square().sum().backward();
  REQUIRE(x.grad().defined());
  REQUIRE(conv->weight.grad().defined());
  const auto dx = x.grad().clone(), dw = conv->weight.grad().clone();
  x.grad().zero_();
  conv->weight.grad().zero_();
  conv->forward(x).square().sum().backward();
  CHECK(torch::allclose(x.grad(), dx));
  CHECK(torch::allclose(conv->weight.grad(), dw));
}
