#pragma once
// The one training loop. Every model plugs in through models::Classifier and
// every dataset through data::BatchSource. Per epoch it trains, validates,
// logs to metrics.jsonl, writes checkpoint.pt (full state) and best.pt (the
// best weights by the monitored metric), and stops early if asked.
#include <memory>

#include "focus/data/batch_source.h"
#include "focus/models/classifier.h"
#include "focus/train/checkpoint.h"
#include "focus/train/distributed.h"
#include "focus/train/train_config.h"
#include "focus/util/run_directory.h"

namespace focus::train {

struct FitOptions {
  bool resume = false;           ///< continue from the run's checkpoint (resume_from)
  std::string resume_from = "checkpoint.pt";  ///< the checkpoint file in the run directory to resume from
  int64_t stop_after_epoch = 0;  ///< stop once this epoch is done, as if interrupted (0 = run to the end)
  bool show_progress = true;     ///< progress bar / progress lines
  bool tty = false;              ///< draw a redrawn bar on stderr (else plain lines)
  /// Data-parallel training: the group this process belongs to (null = alone).
  /// Rank 0's initial weights are broadcast, gradients averaged after every
  /// backward pass, training metrics summed over the ranks; only rank 0
  /// writes metrics.jsonl and checkpoints. The sources must be sharded.
  std::shared_ptr<ProcessGroup> group;
  int64_t bucket_bytes = 25 << 20;  ///< gradient bucket size for the all-reduce
};

struct FitResult {
  LoopState state;               ///< state after the last epoch run
  bool stopped_early = false;    ///< early stopping triggered
  double train_seconds = 0;      ///< wall time of this call's training passes
  double examples_per_second = 0;  ///< training throughput of this call
};

/// Puts every 4-d parameter and buffer of `module` in channels-last memory
/// order with the canonical channels-last strides, 1x1 kernels and 1-channel
/// weights included (values unchanged); returns how many tensors it converted.
int64_t to_channels_last(torch::nn::Module& module);

/// The previous epoch's checkpoint, kept next to checkpoint.pt as a fallback.
inline constexpr const char* kPreviousCheckpoint = "checkpoint.prev.pt";
/// "" or a line offering the previous checkpoint of `run` (when it is valid) instead of `failed`.
std::string fallback_hint(const util::RunDirectory& run, const std::string& failed);

class Trainer {
 public:
  Trainer(std::shared_ptr<models::Classifier> model, TrainConfig config, torch::Device device,
          util::RunDirectory run);
  /// `val` may be empty (size 0): then the training metrics are monitored.
  FitResult fit(const data::BatchSource& train, const data::BatchSource& val, const FitOptions& options);

 private:
  std::shared_ptr<models::Classifier> model_;
  TrainConfig config_;
  torch::Device device_;
  util::RunDirectory run_;
};

}  // namespace focus::train
