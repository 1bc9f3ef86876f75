#pragma once
// Layer norm and softmax that keep small inputs on the calling thread.
//
// ATen's layer norm splits its rows over the intra-op threads from two rows up,
// and its softmax from a few dozen, however little work each row is; waking
// the OpenMP team and joining it again then costs more than the operator.
// Measured at 2 threads (`bash bench/run.sh ops`, docs/BENCHMARKS.md,
// 2026-12-03): a [64, 64] layer norm takes 7.4 us split and 4.5 us on one
// thread; [256, 64], 13.6 against 14.6 us; a [48, 100] softmax 8.2 against
// 6.2 us, [200, 100] 17.3 against 24.6 us. That is what a single image or
// text hits at every layer. Inputs of at most kSerialMaxElements values run
// with one intra-op thread (the same ATen kernels, values and gradients);
// larger ones, and builds without OpenMP, as ATen decides.
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

namespace focus::nn {

/// At most this many values and an operator runs on the calling thread (the
/// break-even measured above is 8-16k values).
inline constexpr int64_t kSerialMaxElements = 8192;

/// One intra-op thread for the calling thread while it lives: LibTorch's
/// parallel_for (OpenMP build) splits work only when omp_get_max_threads() is
/// above one, and omp_set_num_threads sets that for the calling thread alone,
/// without touching the thread pool (at::set_num_threads would). Does nothing
/// in builds without OpenMP.
class CallingThreadOnly {
 public:
  CallingThreadOnly();
  ~CallingThreadOnly();
  CallingThreadOnly(const CallingThreadOnly&) = delete;
  CallingThreadOnly& operator=(const CallingThreadOnly&) = delete;
  /// Whether this build can do it (compiled with OpenMP).
  static bool available();

 private:
  int saved_ = 1;
};

/// norm(x), on the calling thread for small inputs.
torch::Tensor layer_norm(const torch::nn::LayerNorm& norm, const torch::Tensor& x);

/// torch::softmax(x, dim), on the calling thread for small inputs.
torch::Tensor softmax(const torch::Tensor& x, int64_t dim);

}  // namespace focus::nn
