#include "focus/nn/attention_scaling.h"

#include <torch/autograd.h>

#include <algorithm>

#include "focus/nn/pooling.h"
#include "plain_float.h"
#include "split_over_threads.h"

namespace focus::nn {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// The loops' shape: x [B, C, H, W] in channels-last memory, read as [B, P, C].
struct MapShape {
  int64_t batch, positions, channels;
};

MapShape shape_of(const torch::Tensor& x) { return {x.size(0), x.size(2) * x.size(3), x.size(1)}; }

/// Whether the loops may run: float32 CPU, x channels-last in memory.
bool fast_path(const torch::Tensor& x, const torch::Tensor& channel_weights, const torch::Tensor& spatial_map) {
  using detail::plain_float_cpu;
  return plain_float_cpu(x) && plain_float_cpu(channel_weights) &&
         (!spatial_map.defined() || plain_float_cpu(spatial_map)) && x.is_contiguous(torch::MemoryFormat::ChannelsLast);
}

/// Runs body(b) for every image, split over the intra-op threads when the map is large enough.
template <typename Body>
void for_each_image(const MapShape& s, bool split, const Body& body) {
  detail::split_by_image(s.batch, s.positions * s.channels, split, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) body(b);
  });
}

/// Image b's row of a [B, C] gradient, zeroed for accumulation; nullptr when that gradient is not wanted.
float* zeroed_row(float* grad, int64_t b, int64_t channels) {
  if (grad == nullptr) return nullptr;
  float* row = grad + b * channels;
  std::fill(row, row + channels, 0.0f);
  return row;
}

torch::Tensor channels_4d(const torch::Tensor& channel_weights) {
  return channel_weights.unsqueeze(-1).unsqueeze(-1);
}

/// x * channel (* spatial), in ATen operators.
torch::Tensor scale_reference(const torch::Tensor& x, const torch::Tensor& channel_weights,
                              const torch::Tensor& spatial_map) {
  auto y = x * channels_4d(channel_weights);
  return spatial_map.defined() ? y * spatial_map : y;
}

/// spatial_map is a [B, 1, H, W] map, or an empty 1-D placeholder for none (autograd functions take
/// no undefined inputs).
class ScaleByAttention : public torch::autograd::Function<ScaleByAttention> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& channel_weights,
                               const torch::Tensor& spatial_map) {
    // The inputs themselves are saved (a contiguous copy made here would have no history, and
    // the create_graph formulas need it); the loops read contiguous copies.
    const auto sm_input = spatial_map.dim() == 4 ? spatial_map : torch::Tensor();
    ctx->save_for_backward({x, channel_weights, sm_input});
    const auto cw = channel_weights.contiguous();
    const auto sm = sm_input.defined() ? sm_input.contiguous() : sm_input;
    const auto s = shape_of(x);
    auto out = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
    const float* xp = x.data_ptr<float>();
    const float* wp = cw.data_ptr<float>();
    const float* sp = sm.defined() ? sm.data_ptr<float>() : nullptr;
    float* op = out.data_ptr<float>();
    for_each_image(s, detail::may_split(x), [&](int64_t b) {
      const float* w = wp + b * s.channels;
      for (int64_t p = 0; p < s.positions; ++p) {
        const int64_t row = (b * s.positions + p) * s.channels;
        const float scale = sp ? sp[b * s.positions + p] : 1.0f;
        for (int64_t c = 0; c < s.channels; ++c) op[row + c] = xp[row + c] * w[c] * scale;
      }
    });
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const bool need_x = ctx->needs_input_grad(0), need_w = ctx->needs_input_grad(1),
               need_s = saved[2].defined() && ctx->needs_input_grad(2);
    if (torch::GradMode::is_enabled()) {  // create_graph: differentiable formulas
      const auto& g = grads[0];
      const auto w4 = channels_4d(saved[1]);
      const auto gs = saved[2].defined() ? g * saved[2] : g;
      return {need_x ? gs * w4 : torch::Tensor(), need_w ? (gs * x).sum({2, 3}) : torch::Tensor(),
              need_s ? (g * x * w4).sum(1, true) : torch::Tensor()};
    }
    const auto cw = saved[1].contiguous();
    const auto sm = saved[2].defined() ? saved[2].contiguous() : saved[2];
    const auto g = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);
    const auto s = shape_of(x);
    torch::Tensor grad_x, grad_w, grad_s;
    if (need_x) grad_x = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
    if (need_w) grad_w = torch::empty({s.batch, s.channels}, x.options());
    if (need_s) grad_s = torch::empty_like(sm);
    const float *gp = g.data_ptr<float>(), *xp = x.data_ptr<float>(), *wp = cw.data_ptr<float>();
    const float* sp = sm.defined() ? sm.data_ptr<float>() : nullptr;
    float* gxp = need_x ? grad_x.data_ptr<float>() : nullptr;
    float* gwp = need_w ? grad_w.data_ptr<float>() : nullptr;
    float* gsp = need_s ? grad_s.data_ptr<float>() : nullptr;
    for_each_image(s, detail::may_split(x), [&](int64_t b) {
      const float* w = wp + b * s.channels;
      float* acc = zeroed_row(gwp, b, s.channels);
      for (int64_t p = 0; p < s.positions; ++p) {
        const int64_t row = (b * s.positions + p) * s.channels;
        const float* gr = gp + row;
        const float* xr = xp + row;
        const float scale = sp ? sp[b * s.positions + p] : 1.0f;
        if (gxp)
          for (int64_t c = 0; c < s.channels; ++c) gxp[row + c] = gr[c] * w[c] * scale;
        if (acc)
          for (int64_t c = 0; c < s.channels; ++c) acc[c] += gr[c] * xr[c] * scale;
        if (gsp) {
          float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
          for (int64_t c = 0; c < s.channels; ++c) dot += gr[c] * xr[c] * w[c];
          gsp[b * s.positions + p] = dot;
        }
      }
    });
    return {grad_x, grad_w, grad_s};
  }
};

class ScaledChannelDescriptor : public torch::autograd::Function<ScaledChannelDescriptor> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& channel_weights) {
    const auto cw = channel_weights.contiguous();  // for the loops; the input itself is saved
    const auto s = shape_of(x);
    auto out = torch::empty({s.batch, 2, x.size(2), x.size(3)}, x.options());  // contiguous: mean, then max
    auto indices = torch::empty({s.batch, 1, x.size(2), x.size(3)}, x.options().dtype(torch::kLong));
    const float *xp = x.data_ptr<float>(), *wp = cw.data_ptr<float>();
    float* op = out.data_ptr<float>();
    int64_t* ip = indices.data_ptr<int64_t>();
    const float inverse = 1.0f / static_cast<float>(s.channels);
    for_each_image(s, detail::may_split(x), [&](int64_t b) {
      const float* w = wp + b * s.channels;
      for (int64_t p = 0; p < s.positions; ++p) {
        const float* xr = xp + (b * s.positions + p) * s.channels;
        float sum = 0.0f, best = xr[0] * w[0];
#pragma omp simd reduction(+ : sum) reduction(max : best)
        for (int64_t c = 0; c < s.channels; ++c) {
          sum += xr[c] * w[c];
          best = std::max(best, xr[c] * w[c]);
        }
        int64_t at = 0;
        if (sum == sum)  // no NaN among the products: the first channel that holds the maximum
          while (at + 1 < s.channels && xr[at] * w[at] != best) ++at;
        if (sum != sum || xr[at] * w[at] != best) {  // NaN (or inf - inf): a plain scan, NaN winning as in ATen
          best = xr[0] * w[0], at = 0;
          for (int64_t c = 1; c < s.channels; ++c) {
            const float v = xr[c] * w[c];
            if (v > best || (v != v && best == best)) best = v, at = c;
          }
        }
        op[b * 2 * s.positions + p] = sum * inverse;
        op[(b * 2 + 1) * s.positions + p] = best;
        ip[b * s.positions + p] = at;
      }
    });
    ctx->save_for_backward({x, channel_weights, indices});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &indices = saved[2];
    const bool need_x = ctx->needs_input_grad(0), need_w = ctx->needs_input_grad(1);
    const auto s = shape_of(x);
    if (torch::GradMode::is_enabled()) {  // create_graph: differentiable formulas
      const auto& g = grads[0];
      auto to_scaled = g.narrow(1, 0, 1) / static_cast<double>(s.channels) +
                       torch::zeros_like(x).scatter(1, indices, g.narrow(1, 1, 1));
      const auto w4 = channels_4d(saved[1]);
      return {need_x ? to_scaled * w4 : torch::Tensor(), need_w ? (to_scaled * x).sum({2, 3}) : torch::Tensor()};
    }
    const auto cw = saved[1].contiguous();
    const auto g = grads[0].contiguous();
    torch::Tensor grad_x, grad_w;
    if (need_x) grad_x = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
    if (need_w) grad_w = torch::empty({s.batch, s.channels}, x.options());
    const float *gp = g.data_ptr<float>(), *xp = x.data_ptr<float>(), *wp = cw.data_ptr<float>();
    const int64_t* ip = indices.data_ptr<int64_t>();
    float* gxp = need_x ? grad_x.data_ptr<float>() : nullptr;
    float* gwp = need_w ? grad_w.data_ptr<float>() : nullptr;
    const float inverse = 1.0f / static_cast<float>(s.channels);
    for_each_image(s, detail::may_split(x), [&](int64_t b) {
      const float* w = wp + b * s.channels;
      float* acc = zeroed_row(gwp, b, s.channels);
      for (int64_t p = 0; p < s.positions; ++p) {
        const int64_t row = (b * s.positions + p) * s.channels;
        const float to_mean = gp[b * 2 * s.positions + p] * inverse;
        const float to_max = gp[(b * 2 + 1) * s.positions + p];
        const int64_t at = ip[b * s.positions + p];
        const float* xr = xp + row;
        if (gxp) {
          for (int64_t c = 0; c < s.channels; ++c) gxp[row + c] = w[c] * to_mean;
          gxp[row + at] += w[at] * to_max;
        }
        if (acc) {
          for (int64_t c = 0; c < s.channels; ++c) acc[c] += xr[c] * to_mean;
          acc[at] += xr[at] * to_max;
        }
      }
    });
    return {grad_x, grad_w};
  }
};

void check_inputs(const torch::Tensor& x, const torch::Tensor& channel_weights, const char* op) {
  TORCH_CHECK(x.dim() == 4 && channel_weights.dim() == 2 && channel_weights.size(0) == x.size(0) &&
                  channel_weights.size(1) == x.size(1),
              op, ": expected x [B, C, H, W] and channel weights [B, C], got ", x.sizes(), " and ",
              channel_weights.sizes());
}

}  // namespace

torch::Tensor scale_by_attention(const torch::Tensor& x, const torch::Tensor& channel_weights,
                                 const torch::Tensor& spatial_map) {
  check_inputs(x, channel_weights, "scale_by_attention");
  TORCH_CHECK(!spatial_map.defined() || (spatial_map.dim() == 4 && spatial_map.size(0) == x.size(0) &&
                                         spatial_map.size(1) == 1 && spatial_map.size(2) == x.size(2) &&
                                         spatial_map.size(3) == x.size(3)),
              "scale_by_attention: expected a spatial map [B, 1, H, W] = [", x.size(0), ", 1, ", x.size(2), ", ",
              x.size(3), "], got ", spatial_map.sizes());
  if (!fast_path(x, channel_weights, spatial_map)) return scale_reference(x, channel_weights, spatial_map);
  return ScaleByAttention::apply(x, channel_weights,
                                 spatial_map.defined() ? spatial_map : torch::empty({0}, x.options()));
}

torch::Tensor scaled_channel_descriptor(const torch::Tensor& x, const torch::Tensor& channel_weights) {
  check_inputs(x, channel_weights, "scaled_channel_descriptor");
  TORCH_CHECK(x.size(1) > 0, "scaled_channel_descriptor: the maximum over no channels is undefined, got ", x.sizes());
  if (!fast_path(x, channel_weights, {})) {
    const auto scaled = x * channels_4d(channel_weights);
    return torch::cat({channel_mean(scaled), channel_max(scaled)}, 1);
  }
  return ScaledChannelDescriptor::apply(x, channel_weights);
}

}  // namespace focus::nn
