#pragma once
// The `train` section of a recipe: optimisation and the loop's policies.
#include <string>

#include "focus/util/json_reader.h"

namespace focus::train {

struct OptimizerConfig {
  std::string name = "adamw";  ///< "adamw" or "sgd"
  double lr = 2e-3;            ///< peak learning rate
  double weight_decay = 0.05;  ///< decoupled (AdamW) or L2 (SGD); not applied to biases and norms
  double momentum = 0.9;       ///< sgd: momentum
  bool nesterov = true;        ///< sgd: Nesterov momentum
  double beta1 = 0.9;          ///< adamw: first-moment decay
  double beta2 = 0.999;        ///< adamw: second-moment decay
  double eps = 1e-8;           ///< adamw: denominator epsilon
};

struct ScheduleConfig {
  std::string name = "cosine";  ///< "cosine" (warmup then cosine decay) or "constant" (warmup then flat)
  double warmup_epochs = 1.0;   ///< linear warmup length, in epochs (fractions allowed)
  double min_lr_ratio = 0.01;   ///< final lr as a fraction of the peak (cosine)
};

struct TrainConfig {
  int64_t epochs = 10;            ///< passes over the training split
  int64_t batch_size = 128;       ///< training batch size
  int64_t eval_batch_size = 512;  ///< validation/evaluation batch size
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  double label_smoothing = 0.0;   ///< cross-entropy label smoothing in [0, 1)
  double grad_clip_norm = 0.0;    ///< clip the global gradient norm to this (0 = off)
  std::string monitor = "val_accuracy";  ///< "val_accuracy" (higher is better) or "val_loss" (lower)
  int64_t patience = 0;           ///< stop after this many epochs without improvement (0 = never)
  double min_delta = 0.0;         ///< an improvement must exceed this to count
  uint64_t seed = 1;              ///< seeds initialisation, data order, augmentation and dropout
  /// Keep 4-d weights (convolutions) in channels-last (NHWC) memory order while
  /// training: oneDNN's convolutions, above all their backward pass, are faster
  /// so on CPU. The numbers differ from the default order only by rounding.
  bool channels_last = false;
  /// Keep an exponential moving average of the weights with this decay per
  /// step (0 = off; e.g. 0.999): validation, best.pt and checkpoint.pt's
  /// model then hold the averaged weights (see WeightAverage).
  double ema_decay = 0.0;
};

TrainConfig parse_train_config(const util::Json& json, const std::string& context);
util::Json to_json(const TrainConfig& config);

}  // namespace focus::train
