#include "focus/nn/attention_pool.h"

#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "focus/nn/masked_softmax.h"
#include "focus/nn/small_ops.h"
#include "plain_float.h"
#include "split_over_threads.h"

namespace focus::nn {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

float dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

/// Unmasked pooling without a hidden projection, one sweep each way: for each set,
/// the scores a_i . w, their softmax and the weighted sum in one loop over the set
/// (ATen takes a matrix-vector product, a softmax and a batched product of
/// [1, N] x [N, D] slices, one slice at a time), and the backward pass's weight,
/// score and input gradients in one more. inputs [B, N, D] contiguous, w [D]
/// contiguous, float32 CPU. Outputs: the pooled [B, D] and the weights [B, N].
class DotAttentionPool : public torch::autograd::Function<DotAttentionPool> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& inputs, const torch::Tensor& w) {
    const int64_t batch = inputs.size(0), n = inputs.size(1), d = inputs.size(2);
    auto pooled = torch::empty({batch, d}, inputs.options());
    auto weights = torch::empty({batch, n}, inputs.options());
    const float* ap = inputs.data_ptr<float>();
    const float* wp = w.data_ptr<float>();
    float* pp = pooled.data_ptr<float>();
    float* alpha = weights.data_ptr<float>();
    detail::split_by_image(batch, n * d, detail::may_split(inputs), [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const float* a = ap + b * n * d;
        float* al = alpha + b * n;
        float top = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < n; ++i) top = std::max(top, al[i] = dot(a + i * d, wp, d));
        float total = 0.0f;
        for (int64_t i = 0; i < n; ++i) total += al[i] = std::exp(al[i] - top);
        float* z = pp + b * d;
        std::fill(z, z + d, 0.0f);
        for (int64_t i = 0; i < n; ++i) {
          const float weight = al[i] /= total;
          const float* ai = a + i * d;
          for (int64_t k = 0; k < d; ++k) z[k] += weight * ai[k];
        }
      }
    });
    ctx->save_for_backward({inputs, w, weights});
    ctx->set_materialize_grads(false);
    return {pooled, weights};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &inputs = saved[0], &w = saved[1], &weights = saved[2];
    const int64_t batch = inputs.size(0), n = inputs.size(1), d = inputs.size(2);
    const auto g_pooled = grads[0].defined() ? grads[0] : torch::zeros({batch, d}, inputs.options());
    const auto g_weights = grads[1];
    if (torch::GradMode::is_enabled()) {  // create_graph: the same formulas in ATen operators
      auto g_alpha = torch::bmm(inputs, g_pooled.unsqueeze(-1)).squeeze(-1);  // [B, N]
      if (g_weights.defined()) g_alpha = g_alpha + g_weights;
      const auto g_scores = weights * (g_alpha - (weights * g_alpha).sum(-1, true));
      return {weights.unsqueeze(-1) * g_pooled.unsqueeze(1) + g_scores.unsqueeze(-1) * w,
              (g_scores.unsqueeze(-1) * inputs).sum(torch::IntArrayRef{0, 1})};
    }
    const auto gp = g_pooled.contiguous();
    const auto gw = g_weights.defined() ? g_weights.contiguous() : g_weights;
    auto g_inputs = torch::empty_like(inputs);
    auto g_scores = torch::empty({batch, n}, inputs.options());
    const float* ap = inputs.data_ptr<float>();
    const float* wp = w.data_ptr<float>();
    const float* alpha = weights.data_ptr<float>();
    const float* gpp = gp.data_ptr<float>();
    const float* gwp = gw.defined() ? gw.data_ptr<float>() : nullptr;
    float* gap = g_inputs.data_ptr<float>();
    float* gsp = g_scores.data_ptr<float>();
    detail::split_by_image(batch, n * d, detail::may_split(inputs), [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const float* a = ap + b * n * d;
        const float* al = alpha + b * n;
        const float* gz = gpp + b * d;
        float* gs = gsp + b * n;
        float mean = 0.0f;  // sum_j alpha_j dL/dalpha_j
        for (int64_t i = 0; i < n; ++i) {
          gs[i] = dot(a + i * d, gz, d) + (gwp ? gwp[b * n + i] : 0.0f);
          mean += al[i] * gs[i];
        }
        for (int64_t i = 0; i < n; ++i) {
          const float weight = al[i], score = gs[i] = weight * (gs[i] - mean);
          float* ga = gap + (b * n + i) * d;
          for (int64_t k = 0; k < d; ++k) ga[k] = weight * gz[k] + score * wp[k];
        }
      }
    });
    // dL/dw = sum over every set and position of dL/dscore a_i: one matrix-vector product.
    const auto g_w = torch::mm(g_scores.view({1, batch * n}), inputs.view({batch * n, d})).view_as(w);
    return {g_inputs, g_w};
  }
};

bool dot_pool_applies(const torch::Tensor& inputs, const torch::Tensor& w) {
  return detail::plain_float_cpu(inputs) && detail::plain_float_cpu(w) && inputs.is_contiguous() && w.is_contiguous() &&
         inputs.size(1) > 0;
}

}  // namespace

AttentionPoolImpl::AttentionPoolImpl(const AttentionPoolOptions& options_) : options(options_) { reset(); }

void AttentionPoolImpl::reset() {
  TORCH_CHECK(options.dim() > 0, "AttentionPool: dim must be positive, got ", options.dim());
  TORCH_CHECK(options.hidden() >= 0, "AttentionPool: hidden must be >= 0, got ", options.hidden());
  int64_t scored = options.dim();
  if (options.hidden() > 0) {
    project = register_module("project", torch::nn::Linear(options.dim(), options.hidden()));
    scored = options.hidden();
  }
  score = register_module("score", torch::nn::Linear(torch::nn::LinearOptions(scored, 1).bias(false)));
}

void AttentionPoolImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::nn::AttentionPool(dim=" << options.dim();
  if (options.hidden() > 0) stream << ", hidden=" << options.hidden();
  stream << ")";
}

AttentionPoolOutput AttentionPoolImpl::forward(const torch::Tensor& inputs, const torch::Tensor& valid) {
  TORCH_CHECK(inputs.dim() == 3 && inputs.size(2) == options.dim(),
              "AttentionPool: expected inputs [B, N, ", options.dim(), "], got ", inputs.sizes());
  if (!project && !valid.defined()) {
    const auto w = score->weight.view({-1});
    if (dot_pool_applies(inputs, w)) {
      auto out = DotAttentionPool::apply(inputs, w);
      return {out[0], out[1]};
    }
  }
  auto scores = score(project ? torch::tanh(project(inputs)) : inputs).squeeze(-1);  // [B, N]
  torch::Tensor weights;
  if (valid.defined()) {
    TORCH_CHECK(valid.sizes() == scores.sizes(), "AttentionPool: valid mask must be [B, N] = ", scores.sizes(),
                ", got ", valid.sizes());
    weights = masked_softmax(scores, valid.to(torch::kBool));
  } else {
    weights = nn::softmax(scores, -1);
  }
  auto pooled = torch::bmm(weights.unsqueeze(1), inputs).squeeze(1);  // [B, D]
  return {pooled, weights};
}

}  // namespace focus::nn
