#include "focus/train/train_config.h"

namespace focus::train {

TrainConfig parse_train_config(const util::Json& json, const std::string& context) {
  TrainConfig c;
  util::ObjectReader r(json, context);
  r.read("epochs", c.epochs).read("batch_size", c.batch_size).read("eval_batch_size", c.eval_batch_size);
  if (const auto* o = r.find("optimizer")) {
    util::ObjectReader orr(*o, r.where("optimizer"));
    auto& p = c.optimizer;
    orr.read_choice("name", p.name, {"adamw", "sgd"});
    orr.read("lr", p.lr).read("weight_decay", p.weight_decay).read("momentum", p.momentum);
    orr.read("nesterov", p.nesterov).read("beta1", p.beta1).read("beta2", p.beta2).read("eps", p.eps);
    orr.finish();
    if (!(p.lr > 0) || p.weight_decay < 0 || p.momentum < 0 || p.momentum >= 1)
      throw Error(r.where("optimizer") + ": need lr > 0, weight_decay >= 0 and 0 <= momentum < 1");
  }
  if (const auto* s = r.find("schedule")) {
    util::ObjectReader sr(*s, r.where("schedule"));
    sr.read_choice("name", c.schedule.name, {"cosine", "constant"});
    sr.read("warmup_epochs", c.schedule.warmup_epochs).read("min_lr_ratio", c.schedule.min_lr_ratio);
    sr.finish();
    if (c.schedule.warmup_epochs < 0 || c.schedule.min_lr_ratio < 0 || c.schedule.min_lr_ratio > 1)
      throw Error(r.where("schedule") + ": need warmup_epochs >= 0 and 0 <= min_lr_ratio <= 1");
  }
  r.read("label_smoothing", c.label_smoothing).read("grad_clip_norm", c.grad_clip_norm);
  r.read_choice("monitor", c.monitor, {"val_accuracy", "val_loss"});
  r.read("patience", c.patience).read("min_delta", c.min_delta).read("seed", c.seed);
  r.read("channels_last", c.channels_last).read("ema_decay", c.ema_decay);
  r.finish();
  if (c.epochs < 1) throw Error(r.where("epochs") + ": expected at least 1, found " + std::to_string(c.epochs));
  if (c.batch_size < 1 || c.eval_batch_size < 1) throw Error(context + ": batch sizes must be at least 1");
  if (c.label_smoothing < 0 || c.label_smoothing >= 1)
    throw Error(r.where("label_smoothing") + ": expected a value in [0, 1)");
  if (c.grad_clip_norm < 0 || c.patience < 0 || c.min_delta < 0)
    throw Error(context + ": grad_clip_norm, patience and min_delta must be >= 0");
  if (c.ema_decay < 0 || c.ema_decay >= 1)
    throw Error(r.where("ema_decay") + ": expected 0 (off) or a decay in (0, 1), found " + std::to_string(c.ema_decay));
  return c;
}

util::Json to_json(const TrainConfig& c) {
  const auto& p = c.optimizer;
  return {{"epochs", c.epochs}, {"batch_size", c.batch_size}, {"eval_batch_size", c.eval_batch_size},
          {"optimizer", {{"name", p.name}, {"lr", p.lr}, {"weight_decay", p.weight_decay}, {"momentum", p.momentum},
                         {"nesterov", p.nesterov}, {"beta1", p.beta1}, {"beta2", p.beta2}, {"eps", p.eps}}},
          {"schedule", {{"name", c.schedule.name}, {"warmup_epochs", c.schedule.warmup_epochs},
                        {"min_lr_ratio", c.schedule.min_lr_ratio}}},
          {"label_smoothing", c.label_smoothing}, {"grad_clip_norm", c.grad_clip_norm}, {"monitor", c.monitor},
          {"patience", c.patience}, {"min_delta", c.min_delta}, {"seed", c.seed},
          {"channels_last", c.channels_last}, {"ema_decay", c.ema_decay}};
}

}  // namespace focus::train
