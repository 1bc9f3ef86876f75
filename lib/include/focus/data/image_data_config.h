#pragma once
// The `data` section of an image-classification recipe.
#include <string>
#include <vector>

#include "focus/util/json_reader.h"

namespace focus::data {

struct AugmentConfig {
  bool enabled = true;          ///< master switch (off for validation/test always)
  int crop_padding = 2;         ///< random crop after zero-padding by this many pixels (0 = off)
  bool horizontal_flip = true;  ///< flip left-right with probability 0.5
  double rotate_degrees = 0.0;  ///< uniform rotation in [-d, d] degrees (0 = off)
  double scale = 0.0;           ///< uniform scale in [1 - s, 1 + s] (0 = off)
  double erase_probability = 0.0;  ///< random erasing (Zhong et al. 2017) probability per image
  double erase_max_area = 0.25;    ///< largest erased fraction of the image
};

struct ImageDataConfig {
  std::string format = "idx";  ///< "idx" (MNIST-style files) or "folder" (root/<class>/*.png)
  std::string root;            ///< directory holding the files or the split folders
  std::string train_images = "train-images-idx3-ubyte.gz";  ///< idx: training images
  std::string train_labels = "train-labels-idx1-ubyte.gz";  ///< idx: training labels
  std::string test_images = "t10k-images-idx3-ubyte.gz";    ///< idx: test images
  std::string test_labels = "t10k-labels-idx1-ubyte.gz";    ///< idx: test labels
  std::string train_dir = "train";  ///< folder: training split below root
  std::string test_dir = "test";    ///< folder: test split below root
  std::vector<std::string> class_names;  ///< label names (idx: required count = classes; folder: optional)
  int channels = 1;            ///< folder: 1 (gray) or 3 (RGB)
  int image_size = 0;          ///< folder: resize to this square size (0 = keep)
  double val_fraction = 0.1;   ///< part of the training files held out for validation
  uint64_t split_seed = 42;    ///< seed of the train/validation split and of limit_train's subset
  int64_t limit_train = 0;     ///< use only this many training files (0 = all), for quick runs
  int64_t limit_test = 0;      ///< use only the first this many test files (0 = all)
  int workers = 2;             ///< threads preparing batches (0 = in the training thread)
  AugmentConfig augment;       ///< training-time augmentation
};

ImageDataConfig parse_image_data_config(const util::Json& json, const std::string& context);
util::Json to_json(const ImageDataConfig& config);

}  // namespace focus::data
