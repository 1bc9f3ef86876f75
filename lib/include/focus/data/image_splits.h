#pragma once
// Loading the train / validation / test splits an image recipe describes.
#include <string>
#include <utility>

#include "focus/data/image_data_config.h"
#include "focus/data/image_set.h"

namespace focus::data {

/// The training files (after limit_train), before the validation split.
ImageSet load_training_pool(const ImageDataConfig& config);
/// The test files (after limit_test).
ImageSet load_test_set(const ImageDataConfig& config);
/// Seeded split of the pool into (train, validation) by config.val_fraction.
std::pair<ImageSet, ImageSet> split_train_val(const ImageSet& pool, const ImageDataConfig& config);
/// "train", "val" or "test", exactly as training saw them.
ImageSet load_split(const ImageDataConfig& config, const std::string& split);

}  // namespace focus::data
