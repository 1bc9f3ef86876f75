#pragma once
// Squeeze-and-Excitation (Hu et al. 2018): global average pool, a bottleneck
// MLP and a sigmoid give one weight per channel, which rescales the input.
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace focus::nn {

struct SqueezeExcitationOptions {
  explicit SqueezeExcitationOptions(int64_t channels) : channels_(channels) {}
  /// Number of input channels C.
  TORCH_ARG(int64_t, channels);
  /// Bottleneck ratio r: the hidden layer has max(C / r, min_hidden) units.
  TORCH_ARG(int64_t, reduction) = 16;
  /// Lower bound of the hidden width.
  TORCH_ARG(int64_t, min_hidden) = 4;
};

struct ChannelAttentionOutput {
  torch::Tensor output;   ///< [B, C, H, W]
  torch::Tensor weights;  ///< [B, C], in (0, 1)
};

class SqueezeExcitationImpl : public torch::nn::Cloneable<SqueezeExcitationImpl> {
 public:
  explicit SqueezeExcitationImpl(const SqueezeExcitationOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// x: [B, C, H, W].
  ChannelAttentionOutput forward(const torch::Tensor& x);

  SqueezeExcitationOptions options;
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

}  // namespace focus::nn
