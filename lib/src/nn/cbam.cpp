#include "focus/nn/cbam.h"

#include <algorithm>

#include "focus/nn/attention_scaling.h"
#include "focus/nn/pooling.h"

namespace focus::nn {

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
  auto mlp = [this](const torch::Tensor& v) { return fc2(torch::relu(fc1(v))); };
  auto channel_weights = torch::sigmoid(mlp(spatial_mean(x)) + mlp(spatial_max(x)));  // [B, C]
  // The channel-refined map x * channel_weights is never written out: the descriptor (its mean and
  // maximum over the channels) and the output read x and the weights directly.
  auto descriptor = scaled_channel_descriptor(x, channel_weights);  // [B, 2, H, W]
  auto spatial_map = torch::sigmoid(spatial(descriptor));           // [B, 1, H, W]
  return {scale_by_attention(x, channel_weights, spatial_map), channel_weights, spatial_map};
}

}  // namespace focus::nn
