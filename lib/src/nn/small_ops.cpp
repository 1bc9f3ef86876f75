#include "focus/nn/small_ops.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace focus::nn {

CallingThreadOnly::CallingThreadOnly() {
#ifdef _OPENMP
  saved_ = omp_get_max_threads();
  if (saved_ > 1) omp_set_num_threads(1);
#endif
}

CallingThreadOnly::~CallingThreadOnly() {
#ifdef _OPENMP
  if (saved_ > 1) omp_set_num_threads(saved_);
#endif
}

bool CallingThreadOnly::available() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

namespace {

bool small(const torch::Tensor& x) { return x.device().is_cpu() && x.numel() <= kSerialMaxElements; }

}  // namespace

torch::Tensor layer_norm(const torch::nn::LayerNorm& norm, const torch::Tensor& x) {
  if (!small(x)) return norm.ptr()->forward(x);
  const CallingThreadOnly serial;
  return norm.ptr()->forward(x);
}

torch::Tensor softmax(const torch::Tensor& x, int64_t dim) {
  if (!small(x)) return torch::softmax(x, dim);
  const CallingThreadOnly serial;
  return torch::softmax(x, dim);
}

}  // namespace focus::nn
