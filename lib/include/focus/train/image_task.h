#pragma once
// Image classification: batch sources from a recipe's data section, the
// normalisation of a run, and the task's training / evaluation data.
#include <memory>

#include "focus/data/image_batch_source.h"
#include "focus/data/image_data_config.h"
#include "focus/train/task.h"

namespace focus::train {

/// `training`: shuffled, augmented (if the recipe enables it), worker threads;
/// otherwise in order, no augmentation.
std::unique_ptr<data::ImageBatchSource> make_image_source(data::ImageSet set, const data::Normalization& norm,
                                                          const data::ImageDataConfig& config, int64_t batch_size,
                                                          bool training, const data::Shard& shard = {});

TaskData prepare_image_training(Recipe& recipe, const util::RunDirectory* existing, const data::Shard& shard = {});
EvalData prepare_image_evaluation(const TrainedRun& run, const std::string& split, int64_t batch_size);

}  // namespace focus::train
