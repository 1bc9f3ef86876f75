#include "focus/nn/squeeze_excitation.h"

#include <algorithm>

#include "focus/nn/attention_scaling.h"
#include "focus/nn/pooling.h"

namespace focus::nn {

SqueezeExcitationImpl::SqueezeExcitationImpl(const SqueezeExcitationOptions& options_) : options(options_) { reset(); }

void SqueezeExcitationImpl::reset() {
  TORCH_CHECK(options.channels() > 0 && options.reduction() > 0, "SqueezeExcitation: channels and reduction must be "
              "positive, got ", options.channels(), " and ", options.reduction());
  const int64_t hidden = std::max(options.channels() / options.reduction(), options.min_hidden());
  fc1 = register_module("fc1", torch::nn::Linear(options.channels(), hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, options.channels()));
}

void SqueezeExcitationImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::nn::SqueezeExcitation(channels=" << options.channels() << ", reduction=" << options.reduction()
         << ")";
}

ChannelAttentionOutput SqueezeExcitationImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), "SqueezeExcitation: expected [B, ",
              options.channels(), ", H, W], got ", x.sizes());
  auto squeezed = spatial_mean(x);                                   // [B, C]
  auto weights = torch::sigmoid(fc2(torch::relu(fc1(squeezed))));   // [B, C]
  return {scale_by_attention(x, weights), weights};
}

}  // namespace focus::nn
