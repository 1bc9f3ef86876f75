#pragma once
// Non-local block, embedded Gaussian version (Wang et al. 2018):
//   f(x_i, x_j) = softmax_j(theta(x_i)^T phi(x_j)),  y_i = sum_j f_ij g(x_j),
//   z = W_z(y) + x.
// W_z ends in a batch norm initialised to zero, so a new block is the identity.
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace focus::nn {

struct NonLocalOptions {
  explicit NonLocalOptions(int64_t channels) : channels_(channels) {}
  /// Number of input channels C.
  TORCH_ARG(int64_t, channels);
  /// Width of theta/phi/g (0 = C / 2).
  TORCH_ARG(int64_t, inter_channels) = 0;
};

struct NonLocalOutput {
  torch::Tensor output;    ///< [B, C, H, W]
  torch::Tensor affinity;  ///< [B, HW, HW], rows sum to 1
};

class NonLocalImpl : public torch::nn::Cloneable<NonLocalImpl> {
 public:
  explicit NonLocalImpl(const NonLocalOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  NonLocalOutput forward(const torch::Tensor& x);

  NonLocalOptions options;
  torch::nn::Conv2d theta{nullptr}, phi{nullptr}, g{nullptr}, w_z{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(NonLocal);

}  // namespace focus::nn
