// focus::nn::scale_by_attention and scaled_channel_descriptor: the values and
// gradients of the ATen expressions they replace, on the loops (channels-last
// float32) and on the fallback (other layouts), with and without a spatial map,
// split over threads or not, and under create_graph.
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/attention_scaling.h"
#include "focus/nn/pooling.h"

namespace {

torch::Tensor leaf(const torch::Tensor& t) { return t.detach().clone(torch::MemoryFormat::Preserve).requires_grad_(true); }

struct Inputs {
  torch::Tensor x, channel, spatial;
};

Inputs make_inputs(int64_t batch, int64_t channels, int64_t size, bool channels_last) {
  const auto format = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  return {torch::randn({batch, channels, size, size}).contiguous(format), torch::rand({batch, channels}),
          torch::rand({batch, 1, size, size})};
}

/// Gradients of sum(output * upstream) with respect to each input that requires one.
std::vector<torch::Tensor> gradients(const torch::Tensor& output, const std::vector<torch::Tensor>& inputs,
                                     uint64_t seed) {
  torch::manual_seed(seed);
  const auto upstream = torch::randn(output.sizes());
  return torch::autograd::grad({(output * upstream).sum()}, inputs);
}

}  // namespace

TEST_CASE("scale_by_attention equals x * channel * spatial and its gradients", "[nn]") {
  const int before = at::get_num_threads();
  torch::manual_seed(11);
  for (const int threads : {1, 2}) {
    at::set_num_threads(threads);
    for (const bool channels_last : {true, false}) {
      for (const bool with_spatial : {true, false}) {
        for (const int64_t batch : {3, 16}) {  // 16 x 32 x 7 x 7 is split by image at 2 threads
          INFO("channels_last " << channels_last << ", spatial " << with_spatial << ", batch " << batch << ", "
                                << threads << " threads");
          const auto in = make_inputs(batch, 32, 7, channels_last);
          auto x = leaf(in.x), c = leaf(in.channel), s = leaf(in.spatial);
          auto rx = leaf(in.x), rc = leaf(in.channel), rs = leaf(in.spatial);
          const auto ours = focus::nn::scale_by_attention(x, c, with_spatial ? s : torch::Tensor());
          auto reference = rx * rc.unsqueeze(-1).unsqueeze(-1);
          if (with_spatial) reference = reference * rs;
          REQUIRE(ours.sizes() == reference.sizes());
          CHECK(torch::allclose(ours, reference, 1e-5, 1e-6));
          const auto ours_grads = gradients(ours, with_spatial ? std::vector{x, c, s} : std::vector{x, c}, 1);
          const auto ref_grads = gradients(reference, with_spatial ? std::vector{rx, rc, rs} : std::vector{rx, rc}, 1);
          for (size_t i = 0; i < ours_grads.size(); ++i) {
            INFO("gradient " << i);
            CHECK(torch::allclose(ours_grads[i], ref_grads[i], 1e-4, 1e-5));
          }
        }
      }
    }
  }
  at::set_num_threads(before);
}

TEST_CASE("scaled_channel_descriptor equals cat(mean_c, max_c) of the scaled map and its gradients", "[nn]") {
  const int before = at::get_num_threads();
  torch::manual_seed(12);
  for (const int threads : {1, 2}) {
    at::set_num_threads(threads);
    for (const bool channels_last : {true, false}) {
      for (const int64_t batch : {3, 16}) {
        INFO("channels_last " << channels_last << ", batch " << batch << ", " << threads << " threads");
        const auto in = make_inputs(batch, 32, 7, channels_last);
        auto x = leaf(in.x), c = leaf(in.channel);
        auto rx = leaf(in.x), rc = leaf(in.channel);
        const auto ours = focus::nn::scaled_channel_descriptor(x, c);
        const auto scaled = rx * rc.unsqueeze(-1).unsqueeze(-1);
        const auto reference = torch::cat({scaled.mean(1, true), scaled.amax(1, true)}, 1);
        REQUIRE(ours.sizes() == reference.sizes());
        CHECK(torch::allclose(ours, reference, 1e-5, 1e-6));
        const auto ours_grads = gradients(ours, {x, c}, 2);
        const auto ref_grads = gradients(reference, {rx, rc}, 2);  // random values: no ties for amax to split
        CHECK(torch::allclose(ours_grads[0], ref_grads[0], 1e-4, 1e-5));
        CHECK(torch::allclose(ours_grads[1], ref_grads[1], 1e-4, 1e-5));
      }
    }
  }
  at::set_num_threads(before);
}

TEST_CASE("scaled_channel_descriptor's maximum with NaN and infinities, as ATen's amax", "[nn]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // Three positions over four channels: a NaN, +inf and -inf together, and plain values with a tie.
  auto x = torch::tensor({1.0f, nan, 5.0f, 2.0f, -inf, inf, 0.0f, 3.0f, 4.0f, 1.0f, 4.0f, 0.5f})
               .view({1, 3, 1, 4})
               .permute({0, 3, 2, 1})
               .contiguous(at::MemoryFormat::ChannelsLast);  // [1, 4, 1, 3]: positions' channels as listed
  const auto channel = torch::ones({1, 4});
  const auto ours = focus::nn::scaled_channel_descriptor(x, channel);
  const auto maxima = ours.select(1, 1).flatten();
  CHECK(std::isnan(maxima[0].item<float>()));
  CHECK(maxima[1].item<float>() == inf);
  CHECK(maxima[2].item<float>() == 4.0f);
  CHECK(torch::equal(maxima.slice(0, 1), x.amax(1).flatten().slice(0, 1)));
}

TEST_CASE("attention scaling gradients are differentiable under create_graph", "[nn]") {
  torch::manual_seed(13);
  const auto in = make_inputs(4, 16, 5, true);
  auto penalty = [&](bool ours) {
    // Channel weights as a transposed (non-contiguous) view of the leaf: the second-order
    // gradient must reach the leaf through it.
    auto x = leaf(in.x), c_leaf = leaf(in.channel.t().contiguous()), s = leaf(in.spatial);
    auto c = c_leaf.t();
    torch::Tensor y;
    if (ours) {
      y = focus::nn::scale_by_attention(x, c, s) + focus::nn::scaled_channel_descriptor(x, c).sum(1, true);
    } else {
      const auto scaled = x * c.unsqueeze(-1).unsqueeze(-1);
      y = scaled * s + torch::cat({scaled.mean(1, true), scaled.amax(1, true)}, 1).sum(1, true);
    }
    const auto grads = torch::autograd::grad({y.pow(2).sum()}, {x}, {}, true, true);
    return torch::autograd::grad({grads[0].pow(2).sum()}, {c_leaf, s});
  };
  const auto ours = penalty(true), reference = penalty(false);
  CHECK(torch::allclose(ours[0], reference[0], 1e-3, 1e-4));
  CHECK(torch::allclose(ours[1], reference[1], 1e-3, 1e-4));
}

TEST_CASE("attention scaling rejects mismatched shapes", "[nn]") {
  const auto x = torch::zeros({2, 8, 4, 4});
  CHECK_THROWS_WITH(focus::nn::scale_by_attention(x, torch::zeros({2, 4})), Catch::Contains("[B, C]"));
  CHECK_THROWS_WITH(focus::nn::scale_by_attention(x, torch::zeros({2, 8}), torch::zeros({2, 1, 3, 4})),
                    Catch::Contains("spatial map [B, 1, H, W]"));
  CHECK_THROWS_WITH(focus::nn::scaled_channel_descriptor(torch::zeros({2, 8, 4}), torch::zeros({2, 8})),
                    Catch::Contains("[B, C, H, W]"));
  CHECK_THROWS_WITH(focus::nn::scaled_channel_descriptor(torch::zeros({2, 0, 4, 4}), torch::zeros({2, 0})),
                    Catch::Contains("no channels"));
}
