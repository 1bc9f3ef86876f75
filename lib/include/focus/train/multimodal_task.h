#pragma once
// Image + text classification (e.g. visual question answering): reading the
// manifests, the validation hold-out by image, labels, the tokenizer (trained
// on the training texts or loaded from the run on resume), image decoding and
// normalisation, and the batch sources.
#include <string>

#include "focus/train/task.h"

namespace focus::train {

TaskData prepare_multimodal_training(Recipe& recipe, const util::RunDirectory* existing, const data::Shard& shard = {});
/// `group_by` ("" = the recipe's group_field) names the manifest field that groups the examples.
EvalData prepare_multimodal_evaluation(const TrainedRun& run, const std::string& split, int64_t batch_size,
                                       const std::string& group_by = "");

}  // namespace focus::train
