#include "focus/train/trainer.h"

#include "focus/util/log.h"
#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>

#include <chrono>
#include <cmath>

#include "focus/train/inference.h"
#include "focus/train/metrics_log.h"
#include "focus/train/optimizer.h"
#include "focus/train/progress.h"
#include "focus/util/error.h"

namespace focus::train {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

std::string fallback_hint(const util::RunDirectory& run, const std::string& failed) {
  if (failed == kPreviousCheckpoint || !run.exists(kPreviousCheckpoint)) return "";
  try {
    const auto state = read_checkpoint_state(run.file(kPreviousCheckpoint));
    return "\nan older valid checkpoint exists: " + run.file(kPreviousCheckpoint).string() + " (after epoch " +
           std::to_string(state.epoch) + "); continue from it with: focus-train --resume --from " +
           kPreviousCheckpoint + " --out " + run.root().string() + " (the epochs after " + std::to_string(state.epoch) +
           " run again)";
  } catch (const Error&) {
    return "\n" + run.file(kPreviousCheckpoint).string() + " is not usable either";
  }
}

int64_t to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  int64_t converted = 0;
  auto convert = [&converted](torch::Tensor& t) {
    // The test is on the strides themselves, not is_contiguous(ChannelsLast): that also holds for
    // tensors with a dimension of size 1 (1x1 kernels, a 1-channel stem) still in NCHW strides, while
    // the convolutions pick their memory format from the strides. PyTorch's Module.to(memory_format=...)
    // restrides them too; doing the same made the Fashion AttnCNN train 8-12% faster (docs/BENCHMARKS.md).
    if (!t.defined() || t.dim() != 4 || t.strides() == c10::get_channels_last_strides_2d(t.sizes())) return;
    t.set_data(t.clone(torch::MemoryFormat::ChannelsLast));
    ++converted;
  };
  for (auto& p : module.parameters()) convert(p);
  for (auto& b : module.buffers()) convert(b);
  return converted;
}

Trainer::Trainer(std::shared_ptr<models::Classifier> model, TrainConfig config, torch::Device device,
                 util::RunDirectory run)
    : model_(std::move(model)), config_(std::move(config)), device_(device), run_(std::move(run)) {}

FitResult Trainer::fit(const data::BatchSource& train, const data::BatchSource& val, const FitOptions& options) {
  model_->to(device_);
  if (config_.channels_last) to_channels_last(*model_);
  auto optimizer = make_optimizer(*model_, config_.optimizer);
  const bool higher_is_better = config_.monitor == "val_accuracy";
  auto patience_exhausted = [this](const LoopState& s) {
    return config_.patience > 0 && s.bad_epochs >= config_.patience;
  };
  LoopState state;
  const bool writer = !options.group || options.group->rank() == 0;  // only rank 0 writes files and logs
  MetricsLog log(run_.file("metrics.jsonl"));
  std::unique_ptr<WeightAverage> average;
  if (config_.ema_decay > 0) average = std::make_unique<WeightAverage>(*model_, config_.ema_decay);
  if (options.resume) {
    try {
      load_checkpoint(run_.file(options.resume_from), *model_, optimizer.get(), &state, /*restore_rng=*/true,
                      average.get());
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + fallback_hint(run_, options.resume_from));
    }
    log.load(state.epoch);
    if (config_.channels_last) to_channels_last(*model_);  // the checkpoint's tensors came with their own layout
    util::log()->info("resumed from {} after epoch {}", run_.file(options.resume_from).string(), state.epoch);
  }
  std::unique_ptr<GradientSync> sync;
  if (options.group) {
    options.group->broadcast_module(*model_);
    if (average && !options.resume) average->assign_from(*model_);  // every rank starts from rank 0's weights
    sync = std::make_unique<GradientSync>(*model_, options.group, options.bucket_bytes);
    util::log()->info("rank {} of {}: {} gradient buckets", options.group->rank(), options.group->size(), sync->buckets());
  }

  if (options.resume && patience_exhausted(state)) {
    util::log()->info("the run had already stopped early at epoch {}", state.epoch);
    FitResult done;
    done.state = state;
    done.stopped_early = true;
    return done;
  }
  const int64_t steps = train.batches();
  if (steps == 0) throw Error("the training split has no complete batch (size " + std::to_string(train.size()) + ")");
  ProgressDisplay progress(stderr, options.tty, options.show_progress && writer);
  FitResult result;
  int64_t examples_seen = 0;

  for (int64_t epoch = state.epoch + 1; epoch <= config_.epochs; ++epoch) {
    model_->train();
    const auto start = Clock::now();
    double loss_sum = 0, correct = 0;
    int64_t seen = 0, examples = 0, step = 0;  // predictions (for loss/accuracy) and examples (for throughput)
    double lr = 0;
    auto stream = train.epoch(config_.seed, epoch);
    while (auto batch = stream->next()) {
      lr = learning_rate_at(config_.optimizer, config_.schedule, state.step, steps, config_.epochs);
      set_learning_rate(*optimizer, lr);
      auto b = batch->to(device_);
      if (b.size() == 0) {  // nothing to predict (e.g. a masked-LM batch of empty texts)
        if (sync) {  // the other ranks still expect this rank's (zero) gradients
          optimizer->zero_grad();
          sync->prepare();
          sync->finish();
          optimizer->step();
          if (average) average->update(*model_, state.step);
          ++state.step;
        }
        continue;
      }
      optimizer->zero_grad();
      auto logits = model_->forward(b);
      auto loss = torch::nn::functional::cross_entropy(
          logits, b.targets, torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(config_.label_smoothing));
      if (sync) sync->prepare();
      loss.backward();
      if (sync) sync->finish();
      if (config_.grad_clip_norm > 0) torch::nn::utils::clip_grad_norm_(model_->parameters(), config_.grad_clip_norm);
      optimizer->step();
      if (average) average->update(*model_, state.step);
      ++state.step;
      ++step;
      const double l = loss.item<double>();
      if (!std::isfinite(l))
        throw Error("training diverged: loss is " + std::to_string(l) + " at epoch " + std::to_string(epoch) +
                    ", step " + std::to_string(step) + " (lower train.optimizer.lr or set train.grad_clip_norm)");
      loss_sum += l * static_cast<double>(b.size());
      correct += logits.argmax(1).eq(b.targets).sum().item<double>();
      seen += b.size();
      examples += b.examples();
      const double elapsed = seconds_since(start);
      progress.update({epoch, config_.epochs, step, steps, loss_sum / seen, correct / seen, examples / elapsed,
                       elapsed / step * static_cast<double>(steps - step)});
    }
    progress.end_epoch();
    if (options.group) {  // metrics over all ranks' examples
      std::vector<double> totals = {loss_sum, correct, static_cast<double>(seen), static_cast<double>(examples)};
      options.group->sum(totals);
      loss_sum = totals[0];
      correct = totals[1];
      seen = static_cast<int64_t>(totals[2]);
      examples = static_cast<int64_t>(totals[3]);
    }
    if (seen == 0)
      throw Error("epoch " + std::to_string(epoch) + " had nothing to predict (every batch was empty: are all "
                  "training texts empty?)");
    const double train_time = seconds_since(start);
    result.train_seconds += train_time;
    examples_seen += examples;

    util::Json entry = {{"epoch", epoch},
                        {"lr", lr},
                        {"train_loss", loss_sum / seen},
                        {"train_accuracy", correct / seen},
                        {"examples_per_second", examples / train_time},
                        {"train_seconds", train_time}};
    if (average) average->swap(*model_);  // validate (and keep as best.pt) the averaged weights
    double monitored;
    if (val.size() > 0) {
      const auto v = run_inference(*model_, val, device_, {/*keep_probabilities=*/false});
      if (!std::isfinite(v.loss))
        throw Error("validation loss is " + std::to_string(v.loss) + " at epoch " + std::to_string(epoch) +
                    " (the model diverged: lower train.optimizer.lr or set train.grad_clip_norm)");
      entry["val_loss"] = v.loss;
      entry["val_accuracy"] = v.accuracy;
      monitored = higher_is_better ? v.accuracy : v.loss;
    } else {
      monitored = higher_is_better ? correct / seen : loss_sum / seen;
    }
    entry["epoch_seconds"] = seconds_since(start);

    const bool improved = state.best_epoch == 0 || (higher_is_better ? monitored > state.best_metric + config_.min_delta
                                         : monitored < state.best_metric - config_.min_delta);
    state.epoch = epoch;
    if (improved) {
      state.best_metric = monitored;
      state.best_epoch = epoch;
      state.bad_epochs = 0;
    } else {
      ++state.bad_epochs;
    }
    entry["best_epoch"] = state.best_epoch;
    if (writer) {
      log.append(entry);
      if (improved) save_checkpoint(run_.file("best.pt"), *model_, nullptr, state);
    }
    if (average) average->swap(*model_);  // back to the training weights
    if (writer) {
      keep_previous_checkpoint(run_.file("checkpoint.pt"), run_.file(kPreviousCheckpoint));
      save_checkpoint(run_.file("checkpoint.pt"), *model_, optimizer.get(), state, average.get());
    }
    if (options.group) options.group->barrier();  // no rank runs ahead of rank 0's checkpoint

    util::log()->info("epoch {}/{}: train loss {:.4f} acc {:.4f}{} | {:.0f} ex/s, {}{}", epoch, config_.epochs,
                 entry["train_loss"].get<double>(), entry["train_accuracy"].get<double>(),
                 val.size() > 0 ? fmt::format(" | val{} loss {:.4f} acc {:.4f}", average ? " (averaged weights)" : "",
                                              entry["val_loss"].get<double>(), entry["val_accuracy"].get<double>())
                                : std::string(),
                 examples / train_time, format_duration(entry["epoch_seconds"].get<double>()),
                 improved ? " (best)" : "");

    if (patience_exhausted(state)) {
      util::log()->info("early stopping: no improvement of {} for {} epochs", config_.monitor, state.bad_epochs);
      result.stopped_early = true;
      break;
    }
    if (options.stop_after_epoch > 0 && epoch >= options.stop_after_epoch) break;
  }
  result.state = state;
  result.examples_per_second = result.train_seconds > 0 ? examples_seen / result.train_seconds : 0;
  return result;
}

}  // namespace focus::train
