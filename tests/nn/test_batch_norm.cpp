// focus::nn::batch_norm against torch::nn::BatchNorm2d (+ torch::relu): outputs,
// running statistics and gradients, in training and in evaluation, on the loops'
// path (channels-last float32) and off it.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/batch_norm.h"
#include "thread_count.h"

using focus::nn::batch_norm;

namespace {

torch::nn::BatchNorm2d make_bn(int64_t channels, c10::optional<double> momentum = 0.1) {
  torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(channels).momentum(momentum));
  torch::NoGradGuard no_grad;
  bn->weight.uniform_(0.5, 1.5);
  bn->bias.uniform_(-0.5, 0.5);
  return bn;
}

torch::nn::BatchNorm2d copy_of(const torch::nn::BatchNorm2d& bn) {
  return std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(bn->clone());
}

void require_close(const torch::Tensor& a, const torch::Tensor& b, double rtol, double atol, const char* what) {
  INFO(what << ": largest difference " << (a - b).abs().max().item<double>());
  REQUIRE(torch::allclose(a, b, rtol, atol));
}

}  // namespace

TEST_CASE("batch_norm matches BatchNorm2d and ReLU in training, with gradients and running statistics", "[nn]") {
  for (bool relu : {false, true}) {
    for (int t : {1, 2}) {
      for (bool channels_last : {true, false}) {
        // 32 channels: two 16-lane vectors per row. 21 channels: one vector and 5 channels one by one,
        // over 1,575 rows, whose second half (787 rows) ends in a block of 19: three rows past the
        // loops' four-row steps.
        for (const int64_t channels : {32, 21}) {
        DYNAMIC_SECTION("relu " << relu << ", " << t << " threads, channels-last " << channels_last << ", "
                                << channels << " channels") {
          focus::testing::ThreadCount threads(t);
          torch::manual_seed(7);
          // The reference: BatchNorm2d in float64 (ATen's float32 normalisation loses about 2e-4 on
          // channels whose mean is 400 times their spread, the loops about 1e-5).
          auto ours = make_bn(channels), theirs = copy_of(ours);
          theirs->to(torch::kDouble);
          // Channels with means far from zero and a spread of scales; 2,048 (or 1,575) rows, which at
          // 2 threads the loops cut into two blocks with their own partial sums.
          const std::vector<int64_t> sizes =
              channels == 32 ? std::vector<int64_t>{8, 32, 16, 16} : std::vector<int64_t>{7, channels, 15, 15};
          auto x0 = (torch::randn(sizes) * torch::linspace(0.1, 3, channels).view({1, channels, 1, 1}) +
                     torch::linspace(-40, 40, channels).view({1, channels, 1, 1}));
          if (channels_last) x0 = x0.contiguous(at::MemoryFormat::ChannelsLast);
          auto x = x0.clone(at::MemoryFormat::Preserve).requires_grad_(true);
          auto x_ref = x0.to(torch::kDouble).requires_grad_(true);
          for (int step = 0; step < 2; ++step) {  // twice: the running statistics accumulate
            auto y = batch_norm(*ours, x, relu);
            auto y_ref = relu ? torch::relu(theirs(x_ref)) : theirs(x_ref);
            require_close(y, y_ref.to(torch::kFloat), 1e-5, 5e-5, "output");
            CHECK(y.is_contiguous(channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
            auto g = torch::randn(y.sizes());
            auto grads = torch::autograd::grad({y}, {x, ours->weight, ours->bias}, {g});
            auto grads_ref = torch::autograd::grad({y_ref}, {x_ref, theirs->weight, theirs->bias}, {g.to(torch::kDouble)});
            require_close(grads[0], grads_ref[0].to(torch::kFloat), 1e-4, 1e-4, "input gradient");
            require_close(grads[1], grads_ref[1].to(torch::kFloat), 1e-4, 1e-3, "weight gradient");
            require_close(grads[2], grads_ref[2].to(torch::kFloat), 1e-4, 1e-3, "bias gradient");
          }
          require_close(ours->running_mean, theirs->running_mean.to(torch::kFloat), 1e-5, 1e-5, "running mean");
          require_close(ours->running_var, theirs->running_var.to(torch::kFloat), 1e-4, 1e-5, "running variance");
          CHECK(ours->num_batches_tracked.item<int64_t>() == 2);
        }
        }
      }
    }
  }
}

TEST_CASE("batch_norm's cumulative running average (momentum None) and evaluation mode", "[nn]") {
  torch::manual_seed(8);
  auto ours = make_bn(5, c10::nullopt), theirs = copy_of(ours);
  for (int step = 0; step < 3; ++step) {
    auto x = torch::randn({4, 5, 3, 3}).contiguous(at::MemoryFormat::ChannelsLast) * (step + 1) + step;
    batch_norm(*ours, x);
    theirs(x);
  }
  require_close(ours->running_mean, theirs->running_mean, 1e-5, 1e-6, "running mean");
  require_close(ours->running_var, theirs->running_var, 1e-5, 1e-6, "running variance");
  ours->eval();
  theirs->eval();
  auto x = torch::randn({3, 5, 4, 2}).contiguous(at::MemoryFormat::ChannelsLast);
  const auto running_mean = ours->running_mean.clone(), running_var = ours->running_var.clone();
  for (bool relu : {false, true}) {
    auto y = batch_norm(*ours, x, relu);  // no graph: the one-pass loop
    auto y_ref = relu ? torch::relu(theirs(x)) : theirs(x);
    require_close(y, y_ref, 1e-5, 1e-5, "evaluation output");
  }
  CHECK(ours->running_mean.equal(running_mean));  // evaluation leaves the statistics alone
  CHECK(ours->running_var.equal(running_var));
  // Evaluation with a graph (saliency maps) takes ATen's path and still gives input gradients.
  auto xg = x.clone().requires_grad_(true);
  batch_norm(*ours, xg, true).sum().backward();
  REQUIRE(xg.grad().defined());
}

TEST_CASE("batch_norm keeps second derivatives", "[nn]") {
  torch::manual_seed(9);
  auto ours = make_bn(4), theirs = copy_of(ours);
  auto x = torch::randn({3, 4, 5, 5}).contiguous(at::MemoryFormat::ChannelsLast).requires_grad_(true);
  auto x_ref = x.detach().clone(at::MemoryFormat::Preserve).requires_grad_(true);
  auto g = torch::autograd::grad({batch_norm(*ours, x, true).pow(2).sum()}, {x}, {}, true, true)[0];
  auto g_ref = torch::autograd::grad({torch::relu(theirs(x_ref)).pow(2).sum()}, {x_ref}, {}, true, true)[0];
  require_close(g, g_ref, 1e-4, 1e-5, "first derivative");
  auto gg = torch::autograd::grad({g.pow(2).sum()}, {x})[0];
  auto gg_ref = torch::autograd::grad({g_ref.pow(2).sum()}, {x_ref})[0];
  require_close(gg, gg_ref, 1e-3, 1e-4, "second derivative");
}

TEST_CASE("batch_norm's second derivative with frozen affine parameters", "[nn]") {
  torch::manual_seed(10);
  auto bn = make_bn(4);
  bn->weight.set_requires_grad(false);
  bn->bias.set_requires_grad(false);
  auto x = torch::randn({3, 4, 5, 5}).contiguous(at::MemoryFormat::ChannelsLast).requires_grad_(true);
  auto g = torch::autograd::grad({batch_norm(*bn, x, true).pow(2).sum()}, {x}, {}, true, true)[0];
  auto gg = torch::autograd::grad({g.pow(2).sum()}, {x})[0];
  CHECK(gg.abs().sum().item<double>() > 0);
}

TEST_CASE("batch_norm rejects what BatchNorm2d rejects", "[nn]") {
  auto bn = make_bn(3);
  CHECK_THROWS_WITH(batch_norm(*bn, torch::randn({1, 3, 1, 1}).contiguous(at::MemoryFormat::ChannelsLast)),
                    Catch::Contains("more than 1 value per channel"));
  CHECK_THROWS(batch_norm(*bn, torch::randn({2, 3, 4})));
  CHECK_THROWS(batch_norm(*bn, torch::randn({2, 5, 4, 4}).contiguous(at::MemoryFormat::ChannelsLast)));
}
