#include "focus/nn/cbam.h"

#include <torch/autograd.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "attention_kernels.h"
#include "focus/nn/attention_scaling.h"
#include "focus/nn/pooling.h"
#include "plain_float.h"
#include "split_over_threads.h"
#include "vector_clones.h"

namespace focus::nn {

namespace {

using detail::MapShape;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// The module's parameters, as the fused function takes them.
struct CbamWeights {
  torch::Tensor fc1_weight, fc1_bias, fc2_weight, fc2_bias, spatial_weight;
};

/// Channel weights from the pooled descriptors: sigmoid(mlp(mean) + mlp(max)), mlp = fc2(relu(fc1(.))).
torch::Tensor channel_weights_of(const torch::Tensor& mean, const torch::Tensor& max, const CbamWeights& w) {
  auto mlp = [&w](const torch::Tensor& v) {
    return torch::linear(torch::relu(torch::linear(v, w.fc1_weight, w.fc1_bias)), w.fc2_weight, w.fc2_bias);
  };
  return torch::sigmoid(mlp(mean) + mlp(max));
}

/// The spatial map from the descriptor [B, 2, H, W]: sigmoid(conv(descriptor)).
torch::Tensor spatial_map_of(const torch::Tensor& descriptor, const torch::Tensor& spatial_weight) {
  return torch::sigmoid(torch::conv2d(descriptor, spatial_weight, {}, 1, spatial_weight.size(-1) / 2));
}

/// The whole module in ATen operators and Focus's autograd functions: the reference, the path for
/// other tensors, and what a second derivative differentiates.
CbamOutput cbam_composed(const torch::Tensor& x, const CbamWeights& w) {
  auto channel_weights = channel_weights_of(spatial_mean(x), spatial_max(x), w);  // [B, C]
  // The channel-refined map x * channel_weights is never written out: the descriptor (its mean and
  // maximum over the channels) and the output read x and the weights directly.
  auto descriptor = scaled_channel_descriptor(x, channel_weights);  // [B, 2, H, W]
  auto spatial_map = spatial_map_of(descriptor, w.spatial_weight);  // [B, 1, H, W]
  return {scale_by_attention(x, channel_weights, spatial_map), channel_weights, spatial_map};
}

/// One image's [P, C] rows: per channel, the mean over the positions and the first position
/// holding the maximum (NaN winning, as in ATen). Vectorised over the channels.
FOCUS_VECTOR_CLONES void pool_image(const float* x, int64_t positions, int64_t channels, float* mean, float* max,
                                    int32_t* at) {
  for (int64_t c = 0; c < channels; ++c) mean[c] = max[c] = x[c], at[c] = 0;
  for (int64_t p = 1; p < positions; ++p) {
    const float* row = x + p * channels;
    const auto where = static_cast<int32_t>(p);
#pragma omp simd
    for (int64_t c = 0; c < channels; ++c) {
      const float v = row[c];
      mean[c] += v;
      const bool better = v > max[c] || (v != v && max[c] == max[c]);
      max[c] = better ? v : max[c];
      at[c] = better ? where : at[c];
    }
  }
  const float inverse = 1.0f / static_cast<float>(positions);
  for (int64_t c = 0; c < channels; ++c) mean[c] *= inverse;
}

/// pool_image for every image, split over the threads.
void pool_positions(const float* x, float* mean, float* max, int64_t* at, const MapShape& s, bool split) {
  TORCH_CHECK(s.positions <= std::numeric_limits<int32_t>::max(), "Cbam: too many positions, ", s.positions);
  detail::split_by_image(s.batch, s.positions * s.channels, split, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> where(s.channels);
    for (int64_t b = begin; b < end; ++b) {
      pool_image(x + b * s.positions * s.channels, s.positions, s.channels, mean + b * s.channels,
                 max + b * s.channels, where.data());
      std::copy(where.begin(), where.end(), at + b * s.channels);
    }
  });
}

/// Everything x receives, in one sweep: from the output (g * cw * sm), from the descriptor (its mean's
/// gradient g_desc[0] / C times cw to every channel, its maximum's g_desc[1] times cw to the channel
/// holding it) and from the pooled descriptors (g_mean / P to every position, g_max to the position
/// holding the maximum). One image: g and gx [P, C], cw, g_mean, g_max, max_at [C], sm, desc_at [P],
/// g_desc [2, P].
FOCUS_VECTOR_CLONES void input_gradient_image(const float* g, const float* cw, const float* sm, const float* g_desc,
                                              const int64_t* desc_at, const float* g_mean, const float* g_max,
                                              const int64_t* max_at, float* gx, int64_t positions, int64_t channels,
                                              float* spread) {
  const float per_channel = 1.0f / static_cast<float>(channels), per_position = 1.0f / static_cast<float>(positions);
  for (int64_t c = 0; c < channels; ++c) spread[c] = g_mean[c] * per_position;
  for (int64_t p = 0; p < positions; ++p) {
    const float scale = sm[p], to_mean = g_desc[p] * per_channel;
    const float* gr = g + p * channels;
    float* out = gx + p * channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; ++c) out[c] = cw[c] * (gr[c] * scale + to_mean) + spread[c];
    const int64_t at = desc_at[p];
    out[at] += cw[at] * g_desc[positions + p];
  }
  for (int64_t c = 0; c < channels; ++c) gx[max_at[c] * channels + c] += g_max[c];
}

void input_gradient(const float* g, const float* cw, const float* sm, const float* g_desc, const int64_t* desc_at,
                    const float* g_mean, const float* g_max, const int64_t* max_at, float* gx, const MapShape& s,
                    bool split) {
  const int64_t image = s.positions * s.channels;
  detail::split_by_image(s.batch, image, split, [&](int64_t begin, int64_t end) {
    std::vector<float> spread(s.channels);
    for (int64_t b = begin; b < end; ++b)
      input_gradient_image(g + b * image, cw + b * s.channels, sm + b * s.positions, g_desc + b * 2 * s.positions,
                           desc_at + b * s.positions, g_mean + b * s.channels, g_max + b * s.channels,
                           max_at + b * s.channels, gx + b * image, s.positions, s.channels, spread.data());
  });
}

/// CBAM over a channels-last float32 map in three sweeps forward (the pooled descriptors, the
/// channel descriptor, the output) and three backward (the output's gradient sums, the descriptor's,
/// then x's whole gradient), where the composition of pooling.h and attention_scaling.h functions
/// makes about ten: each of its functions writes its own gradient of x and autograd adds them up.
/// The MLP and the spatial convolution run on the small descriptors in ATen operators, their
/// backward passes written out. Inputs: x and the module's weights; outputs: the refined map, the
/// channel weights [B, C] and the spatial map [B, 1, H, W].
class FusedCbam : public torch::autograd::Function<FusedCbam> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& fc1_weight,
                               const torch::Tensor& fc1_bias, const torch::Tensor& fc2_weight,
                               const torch::Tensor& fc2_bias, const torch::Tensor& spatial_weight) {
    const auto s = detail::shape_of(x);
    const bool split = detail::may_split(x);
    const auto opts = x.options();
    auto mean = torch::empty({s.batch, s.channels}, opts), max = torch::empty({s.batch, s.channels}, opts);
    auto max_at = torch::empty({s.batch, s.channels}, opts.dtype(torch::kLong));
    pool_positions(x.data_ptr<float>(), mean.data_ptr<float>(), max.data_ptr<float>(), max_at.data_ptr<int64_t>(), s,
                   split);
    const CbamWeights w{fc1_weight, fc1_bias, fc2_weight, fc2_bias, spatial_weight};
    torch::Tensor channel_weights, spatial_map;
    auto descriptor = torch::empty({s.batch, 2, x.size(2), x.size(3)}, opts);
    auto desc_at = torch::empty({s.batch, s.positions}, opts.dtype(torch::kLong));
    {
      torch::NoGradGuard no_grad;
      channel_weights = channel_weights_of(mean, max, w).contiguous();
      detail::descriptor_rows(x.data_ptr<float>(), channel_weights.data_ptr<float>(), descriptor.data_ptr<float>(),
                              desc_at.data_ptr<int64_t>(), s, split);
      spatial_map = spatial_map_of(descriptor, spatial_weight).contiguous();
    }
    auto out = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
    detail::scale_rows(x.data_ptr<float>(), channel_weights.data_ptr<float>(), spatial_map.data_ptr<float>(),
                       out.data_ptr<float>(), s, split);
    // The outputs go through save_for_backward, which holds them without a reference cycle (in
    // saved_data they would keep this node, and the whole graph, alive).
    ctx->save_for_backward({x, fc1_weight, fc1_bias, fc2_weight, fc2_bias, spatial_weight, channel_weights, spatial_map});
    ctx->saved_data["mean"] = mean;
    ctx->saved_data["max"] = max;
    ctx->saved_data["max_at"] = max_at;
    ctx->saved_data["descriptor"] = descriptor;
    ctx->saved_data["desc_at"] = desc_at;
    ctx->set_materialize_grads(false);
    return {out, channel_weights, spatial_map};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const CbamWeights w{saved[1], saved[2], saved[3], saved[4], saved[5]};
    if (torch::GradMode::is_enabled()) {  // create_graph: differentiate the composition
      const auto r = cbam_composed(x, w);
      std::vector<torch::Tensor> outputs, wanted;
      const torch::Tensor results[] = {r.output, r.channel_weights, r.spatial_map};
      for (int i = 0; i < 3; ++i)
        if (grads[i].defined()) outputs.push_back(results[i]), wanted.push_back(grads[i]);
      std::vector<torch::Tensor> inputs = {x, w.fc1_weight, w.fc1_bias, w.fc2_weight, w.fc2_bias, w.spatial_weight};
      std::vector<torch::Tensor> wrt;
      for (size_t i = 0; i < inputs.size(); ++i)
        if (ctx->needs_input_grad(i)) wrt.push_back(inputs[i]);
      if (outputs.empty() || wrt.empty()) return variable_list(inputs.size());
      auto got = torch::autograd::grad(outputs, wrt, wanted, /*retain_graph=*/true, /*create_graph=*/true,
                                       /*allow_unused=*/true);
      variable_list out(inputs.size());
      for (size_t i = 0, k = 0; i < inputs.size(); ++i)
        if (ctx->needs_input_grad(i)) out[i] = got[k++];
      return out;
    }
    const auto s = detail::shape_of(x);
    const bool split = detail::may_split(x);
    const auto &cw = saved[6], &sm = saved[7];
    const auto descriptor = ctx->saved_data["descriptor"].toTensor();
    const auto desc_at = ctx->saved_data["desc_at"].toTensor();
    const auto opts = x.options();
    torch::Tensor g;
    if (grads[0].defined()) g = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);
    // 1. The output's gradient sums: to the channel weights and to the spatial map.
    auto g_cw = torch::zeros({s.batch, s.channels}, opts);
    auto g_sm = torch::zeros({s.batch, s.positions}, opts);
    if (g.defined())
      detail::scale_gradient_rows(g.data_ptr<float>(), x.data_ptr<float>(), cw.data_ptr<float>(),
                                  sm.data_ptr<float>(), nullptr, g_cw.data_ptr<float>(), g_sm.data_ptr<float>(), s,
                                  split);
    if (grads[2].defined()) g_sm += grads[2].reshape({s.batch, s.positions});
    // 2. Through the spatial map's sigmoid and convolution.
    const auto g_logits = g_sm.view(sm.sizes()) * sm * (1 - sm);
    const int64_t pad = w.spatial_weight.size(-1) / 2;
    auto conv_grads = at::convolution_backward(g_logits, descriptor, w.spatial_weight, c10::nullopt, {1, 1},
                                               {pad, pad}, {1, 1}, false, {0, 0}, 1, {true, true, false});
    const auto g_desc = std::get<0>(conv_grads).contiguous();
    const auto g_spatial = std::get<1>(conv_grads);
    // 3. The descriptor's gradient sum to the channel weights.
    auto g_cw_desc = torch::empty({s.batch, s.channels}, opts);
    detail::descriptor_gradient_rows(g_desc.data_ptr<float>(), x.data_ptr<float>(), cw.data_ptr<float>(),
                                     desc_at.data_ptr<int64_t>(), nullptr, g_cw_desc.data_ptr<float>(), s, split);
    g_cw += g_cw_desc;
    if (grads[1].defined()) g_cw += grads[1];
    // 4. Through the sigmoid and the MLP shared by both descriptors: z = mlp(mean) + mlp(max),
    //    mlp(v) = W2 relu(W1 v + b1) + b2.
    const auto mean = ctx->saved_data["mean"].toTensor(), max = ctx->saved_data["max"].toTensor();
    const auto g_z = g_cw * cw * (1 - cw);  // [B, C]
    const auto h_mean = torch::relu(torch::linear(mean, w.fc1_weight, w.fc1_bias));
    const auto h_max = torch::relu(torch::linear(max, w.fc1_weight, w.fc1_bias));
    const auto g_h_mean = g_z.mm(w.fc2_weight) * (h_mean > 0);  // [B, hidden]
    const auto g_h_max = g_z.mm(w.fc2_weight) * (h_max > 0);
    const variable_list g_fc = {g_h_mean.t().mm(mean) + g_h_max.t().mm(max), g_h_mean.sum(0) + g_h_max.sum(0),
                                g_z.t().mm(h_mean + h_max), 2 * g_z.sum(0)};
    const auto g_mean = g_h_mean.mm(w.fc1_weight).contiguous(), g_max = g_h_max.mm(w.fc1_weight).contiguous();
    // 5. x's gradient in one sweep.
    torch::Tensor g_x;
    if (ctx->needs_input_grad(0)) {
      g_x = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
      const auto g_out = g.defined() ? g : torch::zeros_like(x, torch::MemoryFormat::ChannelsLast);
      input_gradient(g_out.data_ptr<float>(), cw.data_ptr<float>(), sm.data_ptr<float>(), g_desc.data_ptr<float>(),
                     desc_at.data_ptr<int64_t>(), g_mean.data_ptr<float>(), g_max.data_ptr<float>(),
                     ctx->saved_data["max_at"].toTensor().data_ptr<int64_t>(), g_x.data_ptr<float>(), s, split);
    }
    return {g_x, g_fc[0], g_fc[1], g_fc[2], g_fc[3], g_spatial};
  }
};

bool fused_applies(const torch::Tensor& x, const CbamWeights& w) {
  using detail::plain_float_cpu;
  return plain_float_cpu(x) && x.is_contiguous(torch::MemoryFormat::ChannelsLast) && x.numel() > 0 &&
         plain_float_cpu(w.fc1_weight) && plain_float_cpu(w.fc1_bias) && plain_float_cpu(w.fc2_weight) &&
         plain_float_cpu(w.fc2_bias) && plain_float_cpu(w.spatial_weight);
}

}  // namespace

CbamImpl::CbamImpl(const CbamOptions& options_) : options(options_) { reset(); }

void CbamImpl::reset() {
  TORCH_CHECK(options.channels() > 0 && options.reduction() > 0, "Cbam: channels and reduction must be positive");
  TORCH_CHECK(options.spatial_kernel() % 2 == 1, "Cbam: spatial_kernel must be odd, got ", options.spatial_kernel());
  const int64_t hidden = std::max(options.channels() / options.reduction(), options.min_hidden());
  fc1 = register_module("fc1", torch::nn::Linear(options.channels(), hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, options.channels()));
  const int64_t k = options.spatial_kernel();
  spatial = register_module(
      "spatial", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 1, k).padding(k / 2).bias(false)));
}

void CbamImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::nn::Cbam(channels=" << options.channels() << ", reduction=" << options.reduction()
         << ", spatial_kernel=" << options.spatial_kernel() << ")";
}

CbamOutput CbamImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), "Cbam: expected [B, ", options.channels(),
              ", H, W], got ", x.sizes());
  const CbamWeights w{fc1->weight, fc1->bias, fc2->weight, fc2->bias, spatial->weight};
  if (!fused_applies(x, w)) return cbam_composed(x, w);
  auto out = FusedCbam::apply(x, w.fc1_weight, w.fc1_bias, w.fc2_weight, w.fc2_bias, w.spatial_weight);
  return {out[0], out[1], out[2]};
}

}  // namespace focus::nn
