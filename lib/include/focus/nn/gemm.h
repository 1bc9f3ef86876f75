#pragma once
// One matrix product C = A B (+ bias over rows), on the faster of the two
// engines LibTorch already loads.
//
// ATen sends float32 products to the BLAS, Debian's OpenBLAS 0.3.21, which
// picks its kernels by CPU model: on CPUs it does not know (AMD Zen 4 and
// later) it falls back to its Haswell (AVX2) kernels, even where the CPU has
// AVX-512. oneDNN's sgemm (libdnnl, which LibTorch links for its
// convolutions) picks its kernels by instruction set. On the 2-core AVX-512
// EPYC VM of 2026-12-03 (docs/BENCHMARKS.md, "oneDNN's sgemm for the matrix
// products"): 1024^3 at 2 threads, OpenBLAS 192 GFLOP/s, oneDNN 394; a
// [50, 64] x [64, 192] projection on one thread, 14.7 against 6.4 us; a
// [1, 64] x [64, 64] one, 1.9 against 0.3 us (OpenBLAS's call overhead).
//
// Float32 products on the CPU take oneDNN's sgemm when Focus is built with
// oneDNN's header (Debian's libdnnl-dev, scripts/setup.sh installs it) unless
// the environment variable FOCUS_GEMM=blas asks for ATen's BLAS; everything
// else (other dtypes, CUDA, builds without the header) takes ATen's mm/addmm.
// oneDNN threads a product over as many OpenMP threads as the calling thread
// may use: one inside a parallel region, at::get_num_threads() otherwise
// (callers limit small products to the calling thread, see linear.h).
#include <torch/types.h>

#include <optional>

namespace focus::nn {

enum class GemmEngine { blas, onednn };

/// The engine float32 CPU products take in this process (decided once, at first use).
GemmEngine gemm_engine();

/// "onednn" or "blas", for logs and benchmark records.
const char* gemm_engine_name();

/// Whether a product of float32 CPU tensors like these goes to oneDNN's sgemm.
bool uses_onednn_gemm(const torch::Tensor& a, const torch::Tensor& b);

/// How a row-major BLAS reads a matrix in place: itself ('N', rows at stride
/// ld) or as the transpose of a row-major matrix ('T', columns at stride ld).
struct BlasLayout {
  char trans = 'N';
  int64_t ld = 1;
};

/// The layout of a rows x cols matrix with these element strides, when BLAS can
/// read it in place (one unit stride; dimensions of size 1 take any stride).
std::optional<BlasLayout> blas_layout(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride);

/// x itself when BLAS reads its last two dimensions in place (blas_layout),
/// else a contiguous copy.
torch::Tensor blas_readable(const torch::Tensor& x);

/// C = A B on raw float32 data through oneDNN's sgemm, for callers that walk
/// many slices themselves (batched_matmul): A [M, K] and B [K, N] as their
/// layouts say, C [M, N] row-major with leading dimension ldc (overwritten).
/// Only where uses_onednn_gemm() holds; throws otherwise or on failure.
void onednn_sgemm(int64_t m, int64_t n, int64_t k, const float* a, BlasLayout a_layout, const float* b,
                  BlasLayout b_layout, float* c, int64_t ldc);

/// out = a b (+ bias broadcast over the rows): a [M, K], b [K, N], bias [N] or
/// undefined, out [M, N] already allocated. a and b may be transposed or
/// row-sliced views (any layout with one unit stride is read in place; others
/// are copied). No autograd.
void gemm_out(const torch::Tensor& out, const torch::Tensor& a, const torch::Tensor& b,
              const torch::Tensor& bias = {});

}  // namespace focus::nn
