#include "focus/train/image_task.h"

namespace focus::train {

std::unique_ptr<data::ImageBatchSource> make_image_source(data::ImageSet set, const data::Normalization& norm,
                                                          const data::ImageDataConfig& config, int64_t batch_size,
                                                          bool training) {
  data::AugmentConfig augment = config.augment;
  augment.enabled = training && augment.enabled;
  data::ImageBatchOptions options;
  options.batch_size = batch_size;
  options.shuffle = training;
  options.drop_last = false;
  options.parallel.workers = config.workers;
  return std::make_unique<data::ImageBatchSource>(std::move(set), data::ImageTransform(norm, augment), options);
}

}  // namespace focus::train
