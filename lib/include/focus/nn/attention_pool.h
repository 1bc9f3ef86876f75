#pragma once
// Additive attention pooling over a set of vectors:
//   alpha_i = softmax_i(a_i^T w),   z = sum_i alpha_i a_i
// or, with a hidden projection (Yang et al. 2016, hierarchical attention):
//   u_i = tanh(W a_i + b),   alpha_i = softmax_i(u_i^T w),   z = sum_i alpha_i a_i
// Positions where `mask` is false get zero weight.
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace focus::nn {

struct AttentionPoolOptions {
  explicit AttentionPoolOptions(int64_t dim) : dim_(dim) {}
  /// Size of each input vector a_i.
  TORCH_ARG(int64_t, dim);
  /// Width of the tanh projection before scoring (0 = score a_i directly).
  TORCH_ARG(int64_t, hidden) = 0;
};

struct AttentionPoolOutput {
  torch::Tensor pooled;   ///< [B, D]
  torch::Tensor weights;  ///< [B, N], rows sum to 1 (0 for fully masked rows)
};

class AttentionPoolImpl : public torch::nn::Cloneable<AttentionPoolImpl> {
 public:
  explicit AttentionPoolImpl(const AttentionPoolOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// inputs: [B, N, D]; valid: optional bool [B, N], true = a real position
  /// (the opposite of MultiHeadAttention's key_padding, where true = padding).
  AttentionPoolOutput forward(const torch::Tensor& inputs, const torch::Tensor& valid = {});

  AttentionPoolOptions options;
  torch::nn::Linear project{nullptr};  ///< W, b (only with a hidden width)
  torch::nn::Linear score{nullptr};    ///< w, as a projection to 1 without bias
};
TORCH_MODULE(AttentionPool);

}  // namespace focus::nn
