// focus::nn::winograd_conv2d and conv2d's use of it: ATen's values and
// gradients (within Winograd's rounding), any input layout, second-order
// gradients, and ATen's convolution where oneDNN has no Winograd kernel.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/conv2d.h"
#include "focus/nn/winograd_conv2d.h"

namespace {

torch::nn::Conv2d make_conv(int64_t in, int64_t out, bool bias = false) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(bias));
}

/// Whether this CPU and build have the kernel for this shape (AVX-512 CPUs with oneDNN's header).
bool has_kernel(int64_t channels, int64_t size) {
  return focus::nn::winograd_conv2d(torch::zeros({16, channels, size, size}), torch::zeros({channels, channels, 3, 3}))
      .has_value();
}

}  // namespace

TEST_CASE("winograd_conv2d equals ATen's convolution and its gradients in both memory formats", "[nn]") {
  if (!has_kernel(32, 7)) {
    WARN("no Winograd kernel on this CPU or build: conv2d takes ATen's convolution");
    return;
  }
  torch::manual_seed(3);
  // 7x7 maps take the Winograd weight gradient, 14x14 ATen's; 9x9 leaves partial output tiles.
  for (const int64_t size : {7, 9, 14}) {
    for (const bool channels_last : {false, true}) {
      INFO(size << "x" << size << ", channels_last " << channels_last);
      const auto format = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
      auto x = torch::randn({16, 32, size, size}).contiguous(format).requires_grad_(true);
      auto w = (torch::randn({48, 32, 3, 3}) * 0.1).contiguous(format).requires_grad_(true);
      auto ref_x = x.detach().clone().requires_grad_(true), ref_w = w.detach().clone().requires_grad_(true);
      auto y = focus::nn::winograd_conv2d(x, w);
      REQUIRE(y.has_value());
      const auto ref = at::conv2d(ref_x, ref_w, {}, 1, 1);
      REQUIRE(y->sizes() == ref.sizes());
      CHECK(y->suggest_memory_format() == format);
      CHECK(torch::allclose(*y, ref, 1e-4, 1e-4));
      const auto upstream = torch::randn(ref.sizes());
      (*y * upstream).sum().backward();
      (ref * upstream).sum().backward();
      CHECK(torch::allclose(x.grad(), ref_x.grad(), 1e-4, 1e-4));
      CHECK(torch::allclose(w.grad(), ref_w.grad(), 1e-3, 1e-3));  // a sum over 16 x size^2 positions
      CHECK(x.grad().suggest_memory_format() == format);
    }
  }
}

TEST_CASE("winograd_conv2d works without autograd (evaluation, inference mode)", "[nn]") {
  if (!has_kernel(64, 7)) {
    WARN("no Winograd kernel on this CPU or build");
    return;
  }
  torch::manual_seed(8);
  const auto x = torch::randn({32, 64, 7, 7}).contiguous(at::MemoryFormat::ChannelsLast);
  const auto w = (torch::randn({64, 64, 3, 3}) * 0.1).contiguous(at::MemoryFormat::ChannelsLast);
  const auto ref = at::conv2d(x, w, {}, 1, 1);
  {
    torch::NoGradGuard no_grad;
    CHECK(torch::allclose(*focus::nn::winograd_conv2d(x, w), ref, 1e-4, 1e-4));
  }
  torch::InferenceMode inference;
  const auto y = focus::nn::winograd_conv2d(x, w);
  REQUIRE(y.has_value());
  CHECK_FALSE(y->requires_grad());
  CHECK(torch::allclose(*y, ref, 1e-4, 1e-4));
}

TEST_CASE("winograd_conv2d's gradients are themselves differentiable (create_graph)", "[nn]") {
  if (!has_kernel(16, 7)) {
    WARN("no Winograd kernel on this CPU or build");
    return;
  }
  torch::manual_seed(4);
  auto x = torch::randn({16, 16, 7, 7}).requires_grad_(true);
  auto w = (torch::randn({16, 16, 3, 3}) * 0.1).requires_grad_(true);
  auto penalty = [&](const torch::Tensor& y) {
    const auto grad_x = torch::autograd::grad({y.pow(2).sum()}, {x}, {}, true, true)[0];
    return torch::autograd::grad({grad_x.pow(2).sum()}, {w})[0];
  };
  const auto ours = penalty(*focus::nn::winograd_conv2d(x, w));
  const auto reference = penalty(at::conv2d(x, w, {}, 1, 1));
  CHECK(torch::allclose(ours, reference, 1e-3, 1e-3));
}

TEST_CASE("conv2d takes Winograd kernels only for batched 3x3 convolutions with stride 1 and no bias", "[nn]") {
  using focus::nn::winograd_candidate;
  const auto batch = torch::zeros({16, 32, 7, 7});
  CHECK(winograd_candidate(*make_conv(32, 32), batch));  // training: the weight needs its gradient
  {
    torch::NoGradGuard no_grad;  // evaluation
    CHECK_FALSE(winograd_candidate(*make_conv(32, 32), batch));
  }
  CHECK_FALSE(winograd_candidate(*make_conv(32, 32), torch::zeros({4, 32, 7, 7})));  // below kMinWinogradBatch
  CHECK_FALSE(winograd_candidate(*make_conv(32, 32, true), batch));                  // bias
  CHECK_FALSE(winograd_candidate(*make_conv(1, 16), torch::zeros({16, 1, 28, 28})));  // a one-channel stem
  CHECK_FALSE(winograd_candidate(
      *torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 32, 3).padding(1).stride(2).bias(false)), batch));
  CHECK_FALSE(
      winograd_candidate(*torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 32, 3).padding(0).bias(false)), batch));
  CHECK_FALSE(winograd_candidate(*torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 32, 1).bias(false)), batch));
  CHECK_FALSE(winograd_candidate(
      *torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 32, 3).padding(1).groups(2).bias(false)), batch));
  CHECK_THROWS_WITH(focus::nn::winograd_conv2d(batch, torch::zeros({32, 32, 5, 5})), Catch::Contains("[O, C, 3, 3]"));
}

TEST_CASE("conv2d gives the module's output and gradients where Winograd kernels may or may not exist", "[nn]") {
  torch::manual_seed(6);
  // 3 input channels: below kMinWinogradChannels, ATen's convolution; 32: Winograd where the CPU has it.
  for (const int64_t in : {3, 32}) {
    INFO(in << " input channels");
    auto conv = make_conv(in, 32);
    auto x = torch::randn({16, in, 8, 8}).requires_grad_(true);
    auto y = focus::nn::conv2d(conv, x);
    const auto ref = conv->forward(x);
    CHECK(torch::allclose(y, ref, 1e-4, 1e-4));
    const auto grads = torch::autograd::grad({y.sum()}, {x, conv->weight});
    const auto ref_grads = torch::autograd::grad({ref.sum()}, {x, conv->weight});
    CHECK(torch::allclose(grads[0], ref_grads[0], 1e-4, 1e-4));
    CHECK(torch::allclose(grads[1], ref_grads[1], 1e-3, 1e-3));
    // The result is an ordinary output, not a view: in-place operators work on it.
    CHECK_NOTHROW(focus::nn::conv2d(conv, x).relu_().sum().backward());
  }
}
