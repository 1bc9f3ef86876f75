#include "focus/nn/attention_scaling.h"

#include <torch/autograd.h>

#include <algorithm>

#include "attention_kernels.h"
#include "focus/nn/pooling.h"
#include "plain_float.h"
#include "split_over_threads.h"
#include "vector_clones.h"

namespace focus::nn {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

using detail::MapShape;
using detail::shape_of;

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
    auto out = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
    detail::scale_rows(x.data_ptr<float>(), cw.data_ptr<float>(), sm.defined() ? sm.data_ptr<float>() : nullptr,
                       out.data_ptr<float>(), shape_of(x), detail::may_split(x));
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
    detail::scale_gradient_rows(g.data_ptr<float>(), x.data_ptr<float>(), cw.data_ptr<float>(),
                                sm.defined() ? sm.data_ptr<float>() : nullptr,
                                need_x ? grad_x.data_ptr<float>() : nullptr, need_w ? grad_w.data_ptr<float>() : nullptr,
                                need_s ? grad_s.data_ptr<float>() : nullptr, s, detail::may_split(x));
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
    detail::descriptor_rows(x.data_ptr<float>(), cw.data_ptr<float>(), out.data_ptr<float>(),
                            indices.data_ptr<int64_t>(), s, detail::may_split(x));
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
    detail::descriptor_gradient_rows(g.data_ptr<float>(), x.data_ptr<float>(), cw.data_ptr<float>(),
                                     indices.data_ptr<int64_t>(), need_x ? grad_x.data_ptr<float>() : nullptr,
                                     need_w ? grad_w.data_ptr<float>() : nullptr, s, detail::may_split(x));
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

namespace detail {

namespace {

// One image each, [P, C] rows: compiled for AVX-512, AVX2 and the baseline (vector_clones.h).

FOCUS_VECTOR_CLONES void scale_image(const float* x, const float* w, const float* sm, float* out, int64_t positions,
                                     int64_t channels) {
  for (int64_t p = 0; p < positions; ++p) {
    const float scale = sm ? sm[p] : 1.0f;
    const float* xr = x + p * channels;
    float* o = out + p * channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; ++c) o[c] = xr[c] * w[c] * scale;
  }
}

FOCUS_VECTOR_CLONES void scale_gradient_image(const float* g, const float* x, const float* w, const float* sm,
                                              float* gx, float* acc, float* gs, int64_t positions, int64_t channels) {
  for (int64_t p = 0; p < positions; ++p) {
    const float* gr = g + p * channels;
    const float* xr = x + p * channels;
    const float scale = sm ? sm[p] : 1.0f;
    if (gx) {
      float* o = gx + p * channels;
#pragma omp simd
      for (int64_t c = 0; c < channels; ++c) o[c] = gr[c] * w[c] * scale;
    }
    if (acc) {
#pragma omp simd
      for (int64_t c = 0; c < channels; ++c) acc[c] += gr[c] * xr[c] * scale;
    }
    if (gs) {
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int64_t c = 0; c < channels; ++c) dot += gr[c] * xr[c] * w[c];
      gs[p] = dot;
    }
  }
}

FOCUS_VECTOR_CLONES void descriptor_image(const float* x, const float* w, float* mean_out, float* max_out,
                                          int64_t* at_out, int64_t positions, int64_t channels) {
  const float inverse = 1.0f / static_cast<float>(channels);
  for (int64_t p = 0; p < positions; ++p) {
    const float* xr = x + p * channels;
    float sum = 0.0f, best = xr[0] * w[0];
#pragma omp simd reduction(+ : sum) reduction(max : best)
    for (int64_t c = 0; c < channels; ++c) {
      sum += xr[c] * w[c];
      best = std::max(best, xr[c] * w[c]);
    }
    int64_t at = 0;
    if (sum == sum)  // no NaN among the products: the first channel that holds the maximum
      while (at + 1 < channels && xr[at] * w[at] != best) ++at;
    if (sum != sum || xr[at] * w[at] != best) {  // NaN (or inf - inf): a plain scan, NaN winning as in ATen
      best = xr[0] * w[0], at = 0;
      for (int64_t c = 1; c < channels; ++c) {
        const float v = xr[c] * w[c];
        if (v > best || (v != v && best == best)) best = v, at = c;
      }
    }
    mean_out[p] = sum * inverse;
    max_out[p] = best;
    at_out[p] = at;
  }
}

FOCUS_VECTOR_CLONES void descriptor_gradient_image(const float* to_means, const float* to_maxes, const float* x,
                                                   const float* w, const int64_t* at_in, float* gx, float* acc,
                                                   int64_t positions, int64_t channels) {
  const float inverse = 1.0f / static_cast<float>(channels);
  for (int64_t p = 0; p < positions; ++p) {
    const float to_mean = to_means[p] * inverse, to_max = to_maxes[p];
    const int64_t at = at_in[p];
    const float* xr = x + p * channels;
    if (gx) {
      float* o = gx + p * channels;
#pragma omp simd
      for (int64_t c = 0; c < channels; ++c) o[c] = w[c] * to_mean;
      o[at] += w[at] * to_max;
    }
    if (acc) {
#pragma omp simd
      for (int64_t c = 0; c < channels; ++c) acc[c] += xr[c] * to_mean;
      acc[at] += xr[at] * to_max;
    }
  }
}

}  // namespace

void scale_rows(const float* x, const float* cw, const float* sm, float* out, const MapShape& s, bool split) {
  const int64_t image = s.positions * s.channels;
  for_each_image(s, split, [&](int64_t b) {
    scale_image(x + b * image, cw + b * s.channels, sm ? sm + b * s.positions : nullptr, out + b * image, s.positions,
                s.channels);
  });
}

void scale_gradient_rows(const float* g, const float* x, const float* cw, const float* sm, float* gx, float* gw,
                         float* gs, const MapShape& s, bool split) {
  const int64_t image = s.positions * s.channels;
  for_each_image(s, split, [&](int64_t b) {
    scale_gradient_image(g + b * image, x + b * image, cw + b * s.channels, sm ? sm + b * s.positions : nullptr,
                         gx ? gx + b * image : nullptr, zeroed_row(gw, b, s.channels),
                         gs ? gs + b * s.positions : nullptr, s.positions, s.channels);
  });
}

void descriptor_rows(const float* x, const float* cw, float* desc, int64_t* at, const MapShape& s, bool split) {
  const int64_t image = s.positions * s.channels;
  for_each_image(s, split, [&](int64_t b) {
    descriptor_image(x + b * image, cw + b * s.channels, desc + b * 2 * s.positions, desc + (b * 2 + 1) * s.positions,
                     at + b * s.positions, s.positions, s.channels);
  });
}

void descriptor_gradient_rows(const float* g_desc, const float* x, const float* cw, const int64_t* at, float* gx,
                              float* gw, const MapShape& s, bool split) {
  const int64_t image = s.positions * s.channels;
  for_each_image(s, split, [&](int64_t b) {
    descriptor_gradient_image(g_desc + b * 2 * s.positions, g_desc + (b * 2 + 1) * s.positions, x + b * image,
                              cw + b * s.channels, at + b * s.positions, gx ? gx + b * image : nullptr,
                              zeroed_row(gw, b, s.channels), s.positions, s.channels);
  });
}

}  // namespace detail

}  // namespace focus::nn
