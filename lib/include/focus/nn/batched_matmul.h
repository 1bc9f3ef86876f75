#pragma once
// Batched matrix product a [..., M, K] x b [..., K, N] -> [..., M, N] with the
// same leading (batch) dimensions on both sides, as attention's scores and
// context products need.
//
// Float32 CPU products where this build has oneDNN's sgemm (gemm.h): every
// [M, K] x [K, N] slice is one sgemm call on strided views of the operands
// (no copies of transposed queries or keys), the batch cut into one chunk per
// intra-op thread when the product is large enough, else all on the calling
// thread.
//
// With ATen's BLAS instead: ATen's bmm on this LibTorch (Debian's 1.13 CPU
// build) runs on one core whatever the intra-op thread count, since its
// per-slice products go to the BLAS, which Focus keeps single-threaded. With
// more than one intra-op thread and enough work, the batch is therefore cut
// into one chunk per thread along its first leading dimension longer than 1
// (the heads, for a single text), and each thread computes its chunk: slices
// with large outputs (attention scores of 128 tokens and more) one ATen mm at
// a time on strided views, smaller slices with one ATen bmm per chunk.
//
// The backward pass does the same for both gradients. One thread with ATen's
// BLAS, small products with it, CUDA and other dtypes go to torch::matmul.
#include <torch/types.h>

namespace focus::nn {

/// Whether batched_matmul splits a product of this tensor's device and dtype,
/// with these leading dimensions and [M, K] x [K, N] slices, at the current thread count.
bool splits_batches(const torch::Tensor& like, c10::IntArrayRef leading, int64_t m, int64_t k, int64_t n);

/// a [..., M, K], b [..., K, N], equal leading dimensions (at least one).
torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace focus::nn
