#include "focus/nn/batched_matmul.h"

#include <ATen/ops/bmm.h>
#include <ATen/ops/mm.h>
#include <torch/csrc/autograd/custom_function.h>

#include "focus/nn/gemm.h"
#include "focus/nn/small_ops.h"
#include "split_over_threads.h"

namespace focus::nn {

namespace {

/// The first leading dimension longer than 1: every dimension before it has
/// size 1, so a chunk of the (contiguous) output along it is contiguous too.
/// -1 when all have size 1.
int64_t split_dim(c10::IntArrayRef leading) {
  for (size_t d = 0; d < leading.size(); ++d)
    if (leading[d] > 1) return static_cast<int64_t>(d);
  return -1;
}

// With ATen's BLAS, slices with at least this many output elements are
// multiplied one at a time on strided views of the operands, with no copies;
// smaller ones go to bmm in chunks, whose per-call overhead is lower (the
// operands are then copied to contiguous chunks where their layout needs it).
// oneDNN's sgemm costs well under a microsecond per call: every slice goes to
// it on strided views.
constexpr int64_t kMinSliceOutput = 128 * 128;

/// Element offsets of slice s from its multi-index over the leading dimensions (all but the last two).
std::pair<int64_t, int64_t> slice_offsets(int64_t s, c10::IntArrayRef sizes, c10::IntArrayRef as, c10::IntArrayRef bs) {
  int64_t rest = s, oa = 0, ob = 0;
  for (int64_t i = static_cast<int64_t>(sizes.size()) - 3; i >= 0; --i) {
    oa += (rest % sizes[i]) * as[i];
    ob += (rest % sizes[i]) * bs[i];
    rest /= sizes[i];
  }
  return {oa, ob};
}

/// The product of one chunk [begin, end) along dimension d into out.
void chunk_product(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& out, int64_t d,
                   int64_t begin, int64_t end) {
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  const auto a_chunk = a.narrow(d, begin, end - begin), b_chunk = b.narrow(d, begin, end - begin);
  auto target = out.narrow(d, begin, end - begin).view({-1, m, n});
  const auto sizes = a_chunk.sizes();
  const auto as = a_chunk.strides(), bs = b_chunk.strides();
  const int64_t dims = a.dim(), slices = target.size(0);
  if (uses_onednn_gemm(a, b)) {
    // Raw pointers, one sgemm call per slice: no tensor is made per slice. The
    // caller made the operands readable in place (blas_readable).
    const auto a_layout = *blas_layout(m, k, as[dims - 2], as[dims - 1]);
    const auto b_layout = *blas_layout(k, n, bs[dims - 2], bs[dims - 1]);
    const float* a_data = a_chunk.data_ptr<float>();
    const float* b_data = b_chunk.data_ptr<float>();
    float* c_data = target.data_ptr<float>();
    for (int64_t s = 0; s < slices; ++s) {
      const auto [oa, ob] = slice_offsets(s, sizes, as, bs);
      onednn_sgemm(m, n, k, a_data + oa, a_layout, b_data + ob, b_layout, c_data + s * m * n, n);
    }
    return;
  }
  if (m * n < kMinSliceOutput) {
    at::bmm_out(target, a_chunk.reshape({-1, m, k}), b_chunk.reshape({-1, k, n}));
    return;
  }
  for (int64_t s = 0; s < slices; ++s) {
    const auto [oa, ob] = slice_offsets(s, sizes, as, bs);
    auto slice = target.select(0, s);
    at::mm_out(slice, a.as_strided({m, k}, {as[dims - 2], as[dims - 1]}, a_chunk.storage_offset() + oa),
               b.as_strided({k, n}, {bs[dims - 2], bs[dims - 1]}, b_chunk.storage_offset() + ob));
  }
}

/// Whether the product splits its batch over the intra-op threads (else it
/// runs on the calling thread).
bool splits(const torch::Tensor& a, const torch::Tensor& b) {
  return splits_batches(a, a.sizes().slice(0, a.dim() - 2), a.size(-2), a.size(-1), b.size(-1));
}

/// The product into a new contiguous tensor: one chunk of the batch per thread
/// when it is worth splitting, else the whole batch on the calling thread.
torch::Tensor chunked_product(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  const bool onednn = uses_onednn_gemm(a_in, b_in);
  const auto a = onednn ? blas_readable(a_in) : a_in;
  const auto b = onednn ? blas_readable(b_in) : b_in;
  auto shape = a.sizes().vec();
  shape.back() = b.size(-1);
  auto out = torch::empty(shape, a.options());
  const int64_t d = std::max<int64_t>(0, split_dim(a.sizes().slice(0, a.dim() - 2)));
  const int64_t length = a.size(d), threads = at::get_num_threads();
  if (splits(a, b)) {
    detail::split_over_threads(length, (length + threads - 1) / threads, [&](int64_t begin, int64_t end) {
      chunk_product(a, b, out, d, begin, end);
    });
  } else {
    const CallingThreadOnly serial;
    chunk_product(a, b, out, d, 0, length);
  }
  return out;
}

torch::Tensor swap_last(const torch::Tensor& x) { return x.transpose(-2, -1); }

class ChunkedProduct : public torch::autograd::Function<ChunkedProduct> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& b) {
    ctx->save_for_backward({a, b});
    return chunked_product(a, b);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& g = grads[0];
    torch::Tensor da, db;
    if (ctx->needs_input_grad(0)) da = batched_matmul(g, swap_last(saved[1]));  // [..., M, K]
    if (ctx->needs_input_grad(1)) db = batched_matmul(swap_last(saved[0]), g);  // [..., K, N]
    return {da, db};
  }
};

}  // namespace

bool splits_batches(const torch::Tensor& like, c10::IntArrayRef leading, int64_t m, int64_t k, int64_t n) {
  if (!detail::may_split(like) || split_dim(leading) < 0) return false;
  return c10::multiply_integers(leading) * m * k * n >= detail::kMinSplitMacs;
}

torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b) {
  const bool same_batch = a.dim() >= 3 && a.dim() == b.dim() && a.size(-1) == b.size(-2) &&
                          a.sizes().slice(0, a.dim() - 2) == b.sizes().slice(0, b.dim() - 2);
  if (!same_batch || !(uses_onednn_gemm(a, b) || splits(a, b)) || a.numel() == 0 || b.numel() == 0)
    return torch::matmul(a, b);
  const bool graph = torch::GradMode::is_enabled() && (a.requires_grad() || b.requires_grad());
  return graph ? ChunkedProduct::apply(a, b) : chunked_product(a, b);
}

}  // namespace focus::nn
