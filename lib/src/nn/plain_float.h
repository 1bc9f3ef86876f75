#pragma once
// Whether a tensor is plain float32 CPU memory that Focus's raw-pointer kernels
// (oneDNN's sgemm and convolutions, the attention-scaling loops) may read: a
// strided CPU float32 tensor, not a lazily negated view and not a zero tensor.
// Private to lib/src (nn and train/fused_adamw.cpp).
#include <torch/types.h>

namespace focus::nn::detail {

inline bool plain_float_cpu(const torch::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == torch::kFloat && t.layout() == torch::kStrided && !t.is_neg() &&
         !t._is_zerotensor();
}

}  // namespace focus::nn::detail
