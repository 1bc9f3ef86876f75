// focus::nn spatial/channel means and maxima: ATen's values in every memory
// layout, the gradient of a unique maximum, the first maximum at ties, NaN
// propagation, the split over threads, and clear errors.
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/pooling.h"

namespace {

using Op = torch::Tensor (*)(const torch::Tensor&);

struct Case {
  const char* name;
  Op ours;
  torch::Tensor (*aten)(const torch::Tensor&);
};

const Case kCases[] = {
    {"spatial_mean", focus::nn::spatial_mean, [](const torch::Tensor& x) { return x.mean({2, 3}); }},
    {"spatial_max", focus::nn::spatial_max, [](const torch::Tensor& x) { return x.amax({2, 3}); }},
    {"channel_mean", focus::nn::channel_mean, [](const torch::Tensor& x) { return x.mean(1, true); }},
    {"channel_max", focus::nn::channel_max, [](const torch::Tensor& x) { return x.amax(1, true); }},
};

/// A leaf holding `base` and the view of it an op reads: contiguous, channels-last, or every
/// second column of a wider tensor.
struct Layout {
  const char* name;
  torch::Tensor (*leaf)(const torch::Tensor& base);
  torch::Tensor (*view)(const torch::Tensor& leaf);
};

const Layout kLayouts[] = {
    {"contiguous", [](const torch::Tensor& b) { return b.contiguous(); }, [](const torch::Tensor& l) { return l; }},
    {"channels-last", [](const torch::Tensor& b) { return b.contiguous(torch::MemoryFormat::ChannelsLast); },
     [](const torch::Tensor& l) { return l; }},
    {"strided", [](const torch::Tensor& b) { return torch::stack({b, b}, 4).flatten(3); },
     [](const torch::Tensor& l) { return l.slice(3, 0, l.size(3), 2); }},
};

}  // namespace

TEST_CASE("pooling ops equal ATen's values and gradients in every layout, at 1 and 2 threads", "[nn]") {
  const int before = at::get_num_threads();
  torch::manual_seed(5);
  for (const int threads : {1, 2}) {
    at::set_num_threads(threads);
    // 8 x 16 x 14 x 14 is 25k values: split by image at 2 threads; 3 x 5 x 7 x 6 stays on one.
    for (const auto& shape : std::vector<std::vector<int64_t>>{{8, 16, 14, 14}, {3, 5, 7, 6}, {2, 1, 1, 3}}) {
      const auto base = torch::randn(shape, torch::kDouble);  // values distinct: the maximum is unique
      for (const auto& c : kCases) {
        for (const auto& layout : kLayouts) {
          INFO(c.name << " on " << base.sizes() << ", " << layout.name << ", " << threads << " threads");
          auto x = layout.leaf(base).clone(torch::MemoryFormat::Preserve).requires_grad_(true);
          auto ref_x = layout.leaf(base).clone(torch::MemoryFormat::Preserve).requires_grad_(true);
          REQUIRE(torch::equal(layout.view(x), base));
          auto y = c.ours(layout.view(x));
          auto ref = c.aten(layout.view(ref_x));
          REQUIRE(y.sizes() == ref.sizes());
          CHECK(torch::allclose(y, ref, 1e-12, 1e-12));
          const auto upstream = torch::randn(ref.sizes(), torch::kDouble);
          (y * upstream).sum().backward();
          (ref * upstream).sum().backward();
          CHECK(torch::allclose(x.grad(), ref_x.grad(), 1e-12, 1e-12));
        }
      }
    }
  }
  at::set_num_threads(before);
}

TEST_CASE("pooling maxima send the gradient to the first maximal position and propagate NaN", "[nn]") {
  // One image, two channels, 2 x 2 positions; channel 0 has its maximum twice.
  auto x = torch::tensor({3.0f, 1.0f, 3.0f, 2.0f, 0.0f, 5.0f, 4.0f, 5.0f}).view({1, 2, 2, 2}).requires_grad_(true);
  auto y = focus::nn::spatial_max(x);
  CHECK(torch::equal(y, torch::tensor({{3.0f, 5.0f}})));
  y.sum().backward();
  CHECK(torch::equal(x.grad(), torch::tensor({1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f}).view({1, 2, 2, 2})));

  auto z = torch::tensor({1.0f, 2.0f, 2.0f, 0.0f}).view({1, 2, 1, 2}).requires_grad_(true);  // positions' channel values (1,2), (2,0)
  auto m = focus::nn::channel_max(z);
  CHECK(torch::equal(m, torch::tensor({2.0f, 2.0f}).view({1, 1, 1, 2})));
  m.sum().backward();
  CHECK(torch::equal(z.grad(), torch::tensor({0.0f, 1.0f, 1.0f, 0.0f}).view({1, 2, 1, 2})));

  // The same ties in channels-last memory (the vectorised sweep), and an in-place operator on the result.
  auto cl = torch::tensor({3.0f, 1.0f, 3.0f, 2.0f, 0.0f, 5.0f, 4.0f, 5.0f})
                .view({1, 2, 2, 2})
                .contiguous(at::MemoryFormat::ChannelsLast)
                .requires_grad_(true);
  auto cl_max = focus::nn::spatial_max(cl);
  cl_max.mul_(2.0f).sum().backward();
  CHECK(torch::equal(cl.grad(), torch::tensor({2.0f, 0.0f, 0.0f, 0.0f, 0.0f, 2.0f, 0.0f, 0.0f}).view({1, 2, 2, 2})));

  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto with_nan = torch::tensor({1.0f, nan, 7.0f, nan}).view({1, 1, 2, 2}).requires_grad_(true);
  auto spatial = focus::nn::spatial_max(with_nan);
  CHECK(std::isnan(spatial.item<float>()));
  spatial.sum().backward();  // to the first NaN
  CHECK(torch::equal(with_nan.grad(), torch::tensor({0.0f, 1.0f, 0.0f, 0.0f}).view({1, 1, 2, 2})));
  CHECK(std::isnan(focus::nn::channel_max(with_nan.view({1, 4, 1, 1})).item<float>()));
}

TEST_CASE("pooling ops reject inputs that are not feature maps and maxima over empty axes", "[nn]") {
  CHECK_THROWS_WITH(focus::nn::spatial_mean(torch::zeros({2, 3})), Catch::Contains("[B, C, H, W]"));
  CHECK_THROWS_WITH(focus::nn::channel_max(torch::zeros({2, 3, 4})), Catch::Contains("[B, C, H, W]"));
  for (const bool graph : {false, true}) {  // ATen's amax without a graph, the loop with one
    INFO("requires_grad " << graph);
    CHECK_THROWS_WITH(focus::nn::spatial_max(torch::zeros({2, 3, 0, 4}, torch::requires_grad(graph))),
                      Catch::Contains("empty axis"));
    CHECK_THROWS_WITH(focus::nn::channel_max(torch::zeros({2, 0, 4, 4}, torch::requires_grad(graph))),
                      Catch::Contains("empty axis"));
    // An empty batch is fine.
    CHECK(focus::nn::spatial_max(torch::zeros({0, 3, 4, 4}, torch::requires_grad(graph))).sizes() ==
          torch::IntArrayRef({0, 3}));
  }
}
