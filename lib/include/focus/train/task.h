#pragma once
// What a task (image classification, text classification, masked-LM
// pretraining) prepares from a recipe: batch sources for the one trainer and
// the evaluator, what the model must know about its input, and the files the
// run directory needs (labels, normalization, tokenizer).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "focus/data/batch_source.h"
#include "focus/models/factory.h"
#include "focus/train/recipe.h"
#include "focus/train/trained_run.h"
#include "focus/util/run_directory.h"

namespace focus::train {

struct TaskData {
  std::unique_ptr<data::BatchSource> train, val;
  models::InputSpec input;
  std::vector<std::string> class_names;  ///< empty for a masked LM
  std::string description;               ///< one line for the log
  /// Writes the task's own files (labels.json, normalization.json, tokenizer) into a new run.
  std::function<void(const util::RunDirectory&)> save;
  /// Applied to a freshly built model before training (e.g. a pretrained encoder); may be empty.
  std::function<void(models::Classifier&)> initialize;
};

/// Reads the data a recipe names and resolves the recipe in place (absolute
/// paths, settings inherited from a pretrained run). With `existing` (resume),
/// saved state (normalization, tokenizer) comes from that run. With a shard
/// (data-parallel training), train.batch_size is per rank: the training source
/// plans batches of shard.count x batch_size and keeps this rank's rows.
TaskData prepare_training(Recipe& recipe, const util::RunDirectory* existing, const data::Shard& shard = {});

struct EvalData {
  std::unique_ptr<data::BatchSource> source;
  std::vector<std::string> groups;  ///< per example, in source order (empty when the data has no groups)
  // image + text data: per example, in source order, its text and its 1-based line in `origin`
  std::vector<std::string> texts;
  std::vector<int64_t> lines;
  std::string origin;
};

/// The split ("train", "val" or "test") of a trained run, exactly as training saw it, in order.
/// `group_by` names the record field whose values group the examples (text and
/// multimodal data; "" = the recipe's group field, if any).
EvalData prepare_evaluation(const TrainedRun& run, const std::string& split, int64_t batch_size,
                            const std::string& group_by = "");

}  // namespace focus::train
