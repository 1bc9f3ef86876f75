#pragma once
// The job behind focus-train: recipe -> data -> model -> run directory -> Trainer.
#include <optional>
#include <string>
#include <vector>

#include "focus/train/distributed.h"
#include "focus/train/trainer.h"

namespace focus::train {

struct TrainingRequest {
  std::string recipe_path;              ///< recipe to start from (ignored with resume)
  std::string out_dir;                  ///< the run directory
  std::vector<std::string> overrides;   ///< "key.path=value", applied to the recipe
  bool resume = false;                  ///< continue the run in out_dir from its checkpoint
  std::string resume_from = "checkpoint.pt";  ///< with resume: the checkpoint file in out_dir
  int64_t stop_after_epoch = 0;         ///< stop after this epoch, as if interrupted (0 = no)
  std::optional<uint64_t> seed;         ///< overrides train.seed
  std::string device = "auto";          ///< auto, cpu, cuda, cuda:N
  bool show_progress = true;            ///< progress display
  bool tty = false;                     ///< progress as a redrawn bar
  /// world_size > 1: data-parallel training in a group of processes; train.batch_size is per process.
  DistributedOptions distributed;
};

struct TrainingSummary {
  std::string run_dir;
  FitResult fit;
  int64_t parameters = 0;
  util::Json summary;                   ///< what summary.json holds
};

TrainingSummary run_training(const TrainingRequest& request);

}  // namespace focus::train
