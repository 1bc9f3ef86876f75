#include "focus/train/fused_adamw.h"

#include <c10/util/string_utils.h>

#include <cmath>
#include <unordered_set>
#include <vector>

#include "../nn/plain_float.h"
#include "../nn/split_over_threads.h"
#include "../nn/vector_clones.h"

namespace focus::train {

namespace {

// One parameter's update constants, in the order torch::optim::AdamW applies them.
struct Update {
  float decay;          // 1 - lr * weight_decay
  float beta1, beta2;   // moment decay
  float sqrt_bias2;     // sqrt(1 - beta2^t)
  float eps;
  float step_size;      // lr / (1 - beta1^t)
};

// A run of values updated with the same constants.
struct Span {
  float* param;
  const float* grad;
  float* exp_avg;
  float* exp_avg_sq;
  int64_t size;
  Update u;
};

// Compiled for AVX-512, AVX2 and the baseline, the best taken at load time (GCC's
// function multi-versioning), and vectorised: the square root and the division
// would otherwise take most of a step. (The source is built with -fno-math-errno:
// v >= 0, so the square root never sets errno.)
FOCUS_VECTOR_CLONES void update(const Span& s, int64_t begin, int64_t end) {
  const Update u = s.u;
  const float one_minus_beta1 = 1.0f - u.beta1, one_minus_beta2 = 1.0f - u.beta2;
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) {
    const float g = s.grad[i];
    const float m = s.exp_avg[i] * u.beta1 + one_minus_beta1 * g;
    const float v = s.exp_avg_sq[i] * u.beta2 + one_minus_beta2 * g * g;
    s.exp_avg[i] = m;
    s.exp_avg_sq[i] = v;
    const float denom = std::sqrt(v) / u.sqrt_bias2 + u.eps;
    s.param[i] = s.param[i] * u.decay - u.step_size * (m / denom);
  }
}

// Whether the loop may update p: plain float32 CPU memory, its gradient and moments
// shaped and laid out as p is (same sizes and strides, no gaps or overlaps), so one
// index walks all four. (A gradient or a loaded moment of another shape takes ATen's
// calls, which reject it.)
bool plain(const torch::Tensor& p, const torch::Tensor& grad, const torch::optim::AdamWParamState& state) {
  auto same = [&p](const torch::Tensor& t) {
    return nn::detail::plain_float_cpu(t) && t.sizes() == p.sizes() && t.strides() == p.strides();
  };
  return nn::detail::plain_float_cpu(p) && p.is_non_overlapping_and_dense() && same(grad) && same(state.exp_avg()) &&
         same(state.exp_avg_sq());
}

// Whether two of the parameters with gradients share memory (a module registered twice,
// tied weights): LibTorch's AdamW updates them one after the other, which one loop split
// over threads must not interleave.
bool shares_memory(const std::vector<torch::optim::OptimizerParamGroup>& groups) {
  std::unordered_set<const void*> seen;
  for (const auto& group : groups)
    for (const auto& p : group.params())
      if (p.grad().defined() && p.numel() > 0 && !seen.insert(p.data_ptr()).second) return true;
  return false;
}

}  // namespace

torch::Tensor FusedAdamW::step(LossClosure closure) {
  if (shares_memory(param_groups_)) return torch::optim::AdamW::step(std::move(closure));
  torch::NoGradGuard no_grad;
  torch::Tensor loss = {};
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  std::vector<Span> spans;
  int64_t total = 0;
  for (auto& group : param_groups_) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    const double beta1 = std::get<0>(options.betas()), beta2 = std::get<1>(options.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const auto& grad = p.grad();
      TORCH_CHECK(!grad.is_sparse(), "FusedAdamW does not support sparse gradients");
      const auto key = c10::guts::to_string(p.unsafeGetTensorImpl());
      auto found = state_.find(key);
      if (found == state_.end()) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        if (options.amsgrad()) fresh->max_exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        found = state_.emplace(key, std::move(fresh)).first;
      }
      auto& state = static_cast<torch::optim::AdamWParamState&>(*found->second);
      state.step(state.step() + 1);
      const double bias1 = 1 - std::pow(beta1, state.step());
      const double bias2 = 1 - std::pow(beta2, state.step());
      const double decay = 1 - options.lr() * options.weight_decay();
      const double step_size = options.lr() / bias1;
      if (!options.amsgrad() && plain(p, grad, state)) {
        spans.push_back({p.data_ptr<float>(), grad.data_ptr<float>(), state.exp_avg().data_ptr<float>(),
                         state.exp_avg_sq().data_ptr<float>(), p.numel(),
                         {static_cast<float>(decay), static_cast<float>(beta1), static_cast<float>(beta2),
                          static_cast<float>(std::sqrt(bias2)), static_cast<float>(options.eps()),
                          static_cast<float>(step_size)}});
        total += p.numel();
        continue;
      }
      // ATen's calls, as torch::optim::AdamW makes them.
      if (options.weight_decay() != 0) p.mul_(decay);
      auto& exp_avg = state.exp_avg();
      auto& exp_avg_sq = state.exp_avg_sq();
      exp_avg.mul_(beta1).add_(grad, 1 - beta1);
      exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
      torch::Tensor denom;
      if (options.amsgrad()) {
        auto& max_exp_avg_sq = state.max_exp_avg_sq();
        torch::max_out(max_exp_avg_sq, exp_avg_sq, max_exp_avg_sq);
        denom = (max_exp_avg_sq.sqrt() / std::sqrt(bias2)).add_(options.eps());
      } else {
        denom = (exp_avg_sq.sqrt() / std::sqrt(bias2)).add_(options.eps());
      }
      p.addcdiv_(exp_avg, denom, -step_size);
    }
  }
  if (spans.empty()) return loss;
  // One split over all the spans' values: a chunk may cover the end of one span and the start of the next.
  // (All spans are float32 CPU values.)
  const bool split = at::get_num_threads() > 1 && !at::in_parallel_region();
  auto run = [&spans](int64_t begin, int64_t end) {
    int64_t offset = 0;
    for (const auto& s : spans) {
      const int64_t lo = std::max(begin, offset), hi = std::min(end, offset + s.size);
      if (lo < hi) update(s, lo - offset, hi - offset);
      offset += s.size;
      if (offset >= end) break;
    }
  };
  if (split)
    nn::detail::split_over_threads(total, int64_t{1} << 15, run);
  else
    run(0, total);
  return loss;
}

}  // namespace focus::train
