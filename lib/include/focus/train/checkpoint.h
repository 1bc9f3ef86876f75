#pragma once
// Checkpoints: model, optimiser, loop state and RNG in one file, written
// atomically with a header holding the payload size and a checksum, so a
// truncated or corrupted file is detected on load instead of half-loaded.
#include <filesystem>
#include <string>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include "focus/train/weight_average.h"
#include "focus/util/json_reader.h"

namespace focus::train {

/// The loop's own state, saved with the weights.
struct LoopState {
  int64_t epoch = 0;             ///< completed epochs
  int64_t step = 0;              ///< optimiser steps taken
  double best_metric = 0.0;      ///< best monitored value so far
  int64_t best_epoch = 0;        ///< epoch that reached it (0 = none yet)
  int64_t bad_epochs = 0;        ///< epochs since the last improvement
};

util::Json to_json(const LoopState& s);
LoopState loop_state_from_json(const util::Json& j, const std::string& context);

/// Writes model (+ optimiser, loop state, RNG state) to `path` atomically.
/// With a weight average, the file's model is the averaged weights (what
/// evaluation, export and heatmaps load) and the training weights are kept
/// beside them for resuming.
void save_checkpoint(const std::filesystem::path& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const LoopState& state, WeightAverage* average = nullptr);

/// Restores what save_checkpoint wrote. `optimizer` may be null (weights
/// only); `state` may be null. Restores the global RNG when `restore_rng`.
/// With `average`, the file must hold a weight average: the model gets the
/// training weights and `average` the averaged ones (resuming).
/// Throws focus::Error naming the file if it is missing, truncated or corrupt.
void load_checkpoint(const std::filesystem::path& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     LoopState* state, bool restore_rng, WeightAverage* average = nullptr);

/// The loop state of a checkpoint, after checking its size and checksum.
/// Throws focus::Error naming the file if it is missing, truncated or corrupt.
LoopState read_checkpoint_state(const std::filesystem::path& path);

/// Keeps the checkpoint at `current` (if any) as `previous` before a new one
/// replaces it: a hard link (a copy where links are not possible), moved into
/// place atomically, so `previous` is always a whole file.
void keep_previous_checkpoint(const std::filesystem::path& current, const std::filesystem::path& previous);

/// Wraps a payload with the checksum header, and checks and unwraps it.
std::string seal_payload(const std::string& payload);
std::string unseal_payload(const std::string& file_bytes, const std::string& origin);

}  // namespace focus::train
