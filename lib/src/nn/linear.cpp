#include "focus/nn/linear.h"

#include <ATen/ops/addmm.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/mm.h>
#include <torch/csrc/autograd/custom_function.h>

#include <optional>

#include "focus/nn/gemm.h"
#include "focus/nn/small_ops.h"
#include "split_over_threads.h"

namespace focus::nn {

namespace {

// Each thread's block keeps at least this many rows, so OpenBLAS still gets
// panels it can block well.
constexpr int64_t kMinRowsPerThread = 16;

/// Whether products of these operands take oneDNN's sgemm (gemm.h).
bool onednn_operands(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  return uses_onednn_gemm(x, weight) && (!bias.defined() || uses_onednn_gemm(bias, weight));
}

class ProductLinear : public torch::autograd::Function<ProductLinear> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias) {
    ctx->save_for_backward({x, weight});
    return row_parallel_mm(x, weight.t(), bias);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& weight = saved[1];
    const auto dy = grads[0].contiguous();  // [M, out]
    torch::Tensor dx, dw, db;
    // With create_graph (grad mode on in the backward pass) the gradients must
    // be differentiable themselves: ATen's products record the graph, ours do not.
    const bool differentiable = torch::GradMode::is_enabled();
    auto product = [differentiable](const torch::Tensor& a, const torch::Tensor& b) {
      return differentiable ? at::mm(a, b) : row_parallel_mm(a, b);
    };
    if (ctx->needs_input_grad(0)) dx = product(dy, weight);  // [M, in], split by rows
    if (ctx->needs_input_grad(1)) dw = product(dy.t(), x);   // [out, in], split by output feature
    if (ctx->needs_input_grad(2)) db = dy.sum(0);
    return {dx, dw, db};
  }
};

}  // namespace

bool splits_product(const torch::Tensor& like, int64_t m, int64_t k, int64_t n) {
  return detail::may_split(like) && m >= 2 * kMinRowsPerThread && m * k * n >= detail::kMinSplitMacs;
}

torch::Tensor row_parallel_mm(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias) {
  TORCH_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0), "row_parallel_mm: expected [M, K] x [K, N], got ",
              a.sizes(), " x ", b.sizes());
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  const bool split = splits_product(a, m, k, n);
  if (uses_onednn_gemm(a, b)) {  // oneDNN threads the product itself; small ones stay on the calling thread
    auto out = torch::empty({m, n}, a.options());
    std::optional<CallingThreadOnly> serial;
    if (!split) serial.emplace();
    gemm_out(out, a, b, bias);
    return out;
  }
  if (!split) return bias.defined() ? at::addmm(bias, a, b) : at::mm(a, b);
  auto out = torch::empty({m, n}, a.options());
  const int64_t threads = at::get_num_threads();
  const int64_t grain = std::max(kMinRowsPerThread, (m + threads - 1) / threads);
  detail::split_over_threads(m, grain, [&](int64_t begin, int64_t end) {
    auto rows = out.narrow(0, begin, end - begin);
    const auto block = a.narrow(0, begin, end - begin);
    if (bias.defined())
      at::addmm_out(rows, bias, block, b);
    else
      at::mm_out(rows, block, b);
  });
  return out;
}

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  const int64_t in = weight.size(1), out = weight.size(0);
  const int64_t rows = x.dim() == 0 ? 0 : x.numel() / std::max<int64_t>(in, 1);
  if (x.dim() < 1 || x.size(-1) != in || rows == 0 ||
      !(onednn_operands(x, weight, bias) || splits_product(x, rows, in, out)))
    return at::linear(x, weight, bias);
  auto shape = x.sizes().vec();
  shape.back() = out;
  const auto flat = x.reshape({rows, in});
  const bool graph = torch::GradMode::is_enabled() &&
                     (x.requires_grad() || weight.requires_grad() || (bias.defined() && bias.requires_grad()));
  // An autograd Function takes no undefined inputs: a layer without bias gets
  // a zero bias that needs no gradient.
  auto y = graph ? ProductLinear::apply(flat, weight, bias.defined() ? bias : torch::zeros({out}, weight.options()))
                 : row_parallel_mm(flat, weight.t(), bias);
  return y.view(shape);
}

}  // namespace focus::nn
