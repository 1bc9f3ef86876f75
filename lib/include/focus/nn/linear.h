#pragma once
// y = x W^T + b for inputs of any rank [..., in] -> [..., out].
//
// Float32 products on the CPU go to oneDNN's sgemm where this build has it
// (gemm.h): large ones threaded by oneDNN over the intra-op threads, small
// ones (under detail::kMinSplitMacs multiply-adds or under 32 rows, a single
// image's or text's projections) on the calling thread, whose OpenMP team
// would cost more to wake than it saves; the backward pass (dX, dW) takes the
// same path (ATen's products when it must record a graph itself, create_graph).
//
// With ATen's BLAS instead (FOCUS_GEMM=blas, other dtypes, builds without
// oneDNN's header): Focus keeps OpenBLAS single-threaded
// (util::configure_threads: its own threads would spin against LibTorch's), so
// ATen's matrix product runs on one core whatever the intra-op thread count.
// On CPU with more than one intra-op thread, a product large enough to pay for
// it is therefore split by rows over LibTorch's thread pool, each block one
// single-threaded OpenBLAS call on its own thread, in the forward and the
// backward pass (dX split by rows, dW by output features). Elsewhere (one
// thread, a small product, CUDA) it is ATen's linear, which fuses the bias
// into the product (addmm) for inputs of any rank; the C++ frontend's
// Linear::forward does so only for 2-D inputs.
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

namespace focus::nn {

/// out = a b (+ bias broadcast over rows), a [M, K], b [K, N], bias [N] or
/// undefined, threaded as described above (oneDNN, or rows of `a` split over
/// the intra-op threads); a and b may be transposed views (any strides BLAS
/// takes). No autograd: callers inside a graph use linear().
torch::Tensor row_parallel_mm(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias = {});

/// Whether row_parallel_mm would use more than the calling thread for an
/// [M, K] x [K, N] product of this tensor's device and dtype at the current thread count.
bool splits_product(const torch::Tensor& like, int64_t m, int64_t k, int64_t n);

/// x [..., in], weight [out, in], bias [out] or undefined.
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

inline torch::Tensor linear(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return linear(x, layer->weight, layer->bias);
}

}  // namespace focus::nn
