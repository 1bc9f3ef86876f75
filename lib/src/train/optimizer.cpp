#include "focus/train/optimizer.h"

#include <cmath>

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "focus/train/fused_adamw.h"

namespace focus::train {

namespace {
// Two groups from one set of options: with weight decay and without.
template <class Optim, class Options>
std::unique_ptr<torch::optim::Optimizer> with_decay_groups(const Options& base, double weight_decay,
                                                           std::vector<torch::Tensor> decay,
                                                           std::vector<torch::Tensor> no_decay) {
  auto with = std::make_unique<Options>(base);
  with->weight_decay(weight_decay);
  auto without = std::make_unique<Options>(base);
  without->weight_decay(0);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::move(decay), std::move(with));
  groups.emplace_back(std::move(no_decay), std::move(without));
  return std::make_unique<Optim>(std::move(groups), base);
}
}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model, const OptimizerConfig& c) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model.parameters()) {
    if (!p.requires_grad()) continue;
    (p.dim() >= 2 ? decay : no_decay).push_back(p);
  }
  if (c.name == "sgd")
    return with_decay_groups<torch::optim::SGD>(torch::optim::SGDOptions(c.lr).momentum(c.momentum).nesterov(c.nesterov),
                                                c.weight_decay, std::move(decay), std::move(no_decay));
  return with_decay_groups<FusedAdamW>(torch::optim::AdamWOptions(c.lr).betas({c.beta1, c.beta2}).eps(c.eps),
                                                c.weight_decay, std::move(decay), std::move(no_decay));
}

double learning_rate_at(const OptimizerConfig& opt, const ScheduleConfig& s, int64_t step, int64_t steps_per_epoch,
                        int64_t epochs) {
  const double total = static_cast<double>(std::max<int64_t>(1, steps_per_epoch * epochs));
  const double warmup = std::min(total, s.warmup_epochs * static_cast<double>(steps_per_epoch));
  const double t = static_cast<double>(step) + 1.0;
  if (t <= warmup) return opt.lr * t / warmup;
  if (s.name == "constant") return opt.lr;
  const double progress = std::min(1.0, (t - warmup) / std::max(1.0, total - warmup));
  const double floor = opt.lr * s.min_lr_ratio;
  return floor + (opt.lr - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace focus::train
