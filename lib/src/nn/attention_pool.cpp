#include "focus/nn/attention_pool.h"

#include "focus/nn/masked_softmax.h"
#include "focus/nn/small_ops.h"

namespace focus::nn {

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
