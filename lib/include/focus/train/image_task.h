#pragma once
// Wiring for image classification: batch sources built from a recipe's data
// section and the normalisation of a run.
#include <memory>

#include "focus/data/image_batch_source.h"
#include "focus/data/image_data_config.h"

namespace focus::train {

/// `training`: shuffled, augmented (if the recipe enables it), worker threads;
/// otherwise in order, no augmentation.
std::unique_ptr<data::ImageBatchSource> make_image_source(data::ImageSet set, const data::Normalization& norm,
                                                          const data::ImageDataConfig& config, int64_t batch_size,
                                                          bool training);

}  // namespace focus::train
