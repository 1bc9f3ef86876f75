#include "focus/nn/gemm.h"

#include <ATen/ops/addmm.h>
#include <ATen/ops/mm.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "focus/util/error.h"
#include "plain_float.h"

#ifdef FOCUS_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

namespace focus::nn {

namespace {

GemmEngine engine_from_environment() {
#ifdef FOCUS_HAVE_ONEDNN
  const char* choice = std::getenv("FOCUS_GEMM");
  if (choice == nullptr || std::string(choice).empty() || std::string(choice) == "onednn") return GemmEngine::onednn;
  if (std::string(choice) == "blas") return GemmEngine::blas;
  throw Error("FOCUS_GEMM: expected \"onednn\" or \"blas\", found \"" + std::string(choice) + "\"");
#else
  return GemmEngine::blas;
#endif
}

using detail::plain_float_cpu;

#ifdef FOCUS_HAVE_ONEDNN
void onednn_gemm_out(const torch::Tensor& out, const torch::Tensor& a, const torch::Tensor& b,
                     const torch::Tensor& bias) {
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  const bool direct = n <= 1 || (out.stride(1) == 1 && (m <= 1 || out.stride(0) >= n));
  auto c = direct ? out : torch::empty({m, n}, out.options());
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (bias.defined())
      c.copy_(bias.expand({m, n}));
    else
      c.zero_();
  } else {
    // Operands BLAS cannot read in place (no unit stride) are copied first.
    const auto lhs = blas_readable(a), rhs = blas_readable(b);
    const auto lhs_layout = *blas_layout(m, k, lhs.stride(0), lhs.stride(1));
    const auto rhs_layout = *blas_layout(k, n, rhs.stride(0), rhs.stride(1));
    const int64_t ldc = m <= 1 ? std::max<int64_t>(1, n) : c.stride(0);
    onednn_sgemm(m, n, k, lhs.data_ptr<float>(), lhs_layout, rhs.data_ptr<float>(), rhs_layout, c.data_ptr<float>(),
                 ldc);
    if (bias.defined()) c.add_(bias);
  }
  if (!direct) out.copy_(c);
}
#endif

}  // namespace

std::optional<BlasLayout> blas_layout(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  // A dimension of size 1 has no meaningful stride: any leading dimension that BLAS accepts will do.
  const int64_t row_step = rows <= 1 ? std::max<int64_t>(1, cols) : row_stride;
  const int64_t col_step = cols <= 1 ? std::max<int64_t>(1, rows) : col_stride;
  if ((cols <= 1 || col_stride == 1) && row_step >= std::max<int64_t>(1, cols)) return BlasLayout{'N', row_step};
  if ((rows <= 1 || row_stride == 1) && col_step >= std::max<int64_t>(1, rows)) return BlasLayout{'T', col_step};
  return std::nullopt;
}

torch::Tensor blas_readable(const torch::Tensor& x) {
  const int64_t dims = x.dim();
  return blas_layout(x.size(-2), x.size(-1), x.stride(dims - 2), x.stride(dims - 1)) ? x : x.contiguous();
}

void onednn_sgemm(int64_t m, int64_t n, int64_t k, const float* a, BlasLayout a_layout, const float* b,
                  BlasLayout b_layout, float* c, int64_t ldc) {
#ifdef FOCUS_HAVE_ONEDNN
  const auto status =
      dnnl_sgemm(a_layout.trans, b_layout.trans, m, n, k, 1.0f, a, a_layout.ld, b, b_layout.ld, 0.0f, c, ldc);
  if (status != dnnl_success)
    throw Error("oneDNN sgemm failed (status " + std::to_string(static_cast<int>(status)) + ") for [" +
                std::to_string(m) + ", " + std::to_string(k) + "] x [" + std::to_string(k) + ", " + std::to_string(n) +
                "]");
#else
  (void)m, (void)n, (void)k, (void)a, (void)a_layout, (void)b, (void)b_layout, (void)c, (void)ldc;
  throw Error("onednn_sgemm: this build of Focus has no oneDNN header (Debian: libdnnl-dev)");
#endif
}

GemmEngine gemm_engine() {
  static const GemmEngine engine = engine_from_environment();
  return engine;
}

const char* gemm_engine_name() { return gemm_engine() == GemmEngine::onednn ? "onednn" : "blas"; }

bool uses_onednn_gemm(const torch::Tensor& a, const torch::Tensor& b) {
  return gemm_engine() == GemmEngine::onednn && plain_float_cpu(a) && plain_float_cpu(b);
}

void gemm_out(const torch::Tensor& out, const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias) {
  TORCH_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0) && out.dim() == 2 && out.size(0) == a.size(0) &&
                  out.size(1) == b.size(1),
              "gemm_out: expected [M, K] x [K, N] into [M, N], got ", a.sizes(), " x ", b.sizes(), " into ",
              out.sizes());
#ifdef FOCUS_HAVE_ONEDNN
  if (uses_onednn_gemm(a, b) && plain_float_cpu(out) && (!bias.defined() || plain_float_cpu(bias))) {
    onednn_gemm_out(out, a, b, bias);
    return;
  }
#endif
  auto target = out;  // the out= overloads take a non-const reference
  if (bias.defined())
    at::addmm_out(target, bias, a, b);
  else
    at::mm_out(target, a, b);
}

}  // namespace focus::nn
