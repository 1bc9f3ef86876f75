#pragma once
// Optimiser construction and the learning-rate schedule.
#include <memory>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include "focus/train/train_config.h"

namespace focus::train {

/// AdamW (FusedAdamW, fused_adamw.h) or SGD over two parameter groups: weights of rank >= 2 with weight
/// decay, biases and normalisation parameters without.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model, const OptimizerConfig& config);

/// Learning rate at optimiser step `step` (0-based): linear warmup to
/// `config.lr`, then cosine decay to lr * min_lr_ratio at the last step, or flat.
double learning_rate_at(const OptimizerConfig& opt, const ScheduleConfig& schedule, int64_t step,
                        int64_t steps_per_epoch, int64_t epochs);

/// Sets the learning rate of every parameter group.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace focus::train
