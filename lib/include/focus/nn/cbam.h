#pragma once
// Convolutional Block Attention Module (Woo et al. 2018): channel attention
// from average- and max-pooled descriptors through a shared MLP, then spatial
// attention from a 7x7 convolution over the channel-wise mean and max.
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace focus::nn {

struct CbamOptions {
  explicit CbamOptions(int64_t channels) : channels_(channels) {}
  /// Number of input channels C.
  TORCH_ARG(int64_t, channels);
  /// Bottleneck ratio of the channel MLP (hidden = max(C / r, min_hidden)).
  TORCH_ARG(int64_t, reduction) = 16;
  /// Lower bound of the hidden width.
  TORCH_ARG(int64_t, min_hidden) = 4;
  /// Kernel size of the spatial attention convolution (odd).
  TORCH_ARG(int64_t, spatial_kernel) = 7;
};

struct CbamOutput {
  torch::Tensor output;           ///< [B, C, H, W]
  torch::Tensor channel_weights;  ///< [B, C], in (0, 1)
  torch::Tensor spatial_map;      ///< [B, 1, H, W], in (0, 1)
};

class CbamImpl : public torch::nn::Cloneable<CbamImpl> {
 public:
  explicit CbamImpl(const CbamOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  CbamOutput forward(const torch::Tensor& x);

  CbamOptions options;
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::Conv2d spatial{nullptr};
};
TORCH_MODULE(Cbam);

}  // namespace focus::nn
