#include "focus/train/image_task.h"

#include <filesystem>

#include "focus/data/image_splits.h"
#include "focus/util/error.h"

namespace focus::train {

std::unique_ptr<data::ImageBatchSource> make_image_source(data::ImageSet set, const data::Normalization& norm,
                                                          const data::ImageDataConfig& config, int64_t batch_size,
                                                          bool training, const data::Shard& shard) {
  data::AugmentConfig augment = config.augment;
  augment.enabled = training && augment.enabled;
  data::ImageBatchOptions options;
  options.batch_size = batch_size * shard.count;
  options.shard = shard;
  options.shuffle = training;
  options.drop_last = false;
  options.parallel.workers = config.workers;
  return std::make_unique<data::ImageBatchSource>(std::move(set), data::ImageTransform(norm, augment), options);
}

TaskData prepare_image_training(Recipe& recipe, const util::RunDirectory* existing, const data::Shard& shard) {
  auto& config = recipe.image_data;
  // Relative data paths are taken from the working directory; the run stores them absolute.
  config.root = std::filesystem::absolute(config.root).lexically_normal().string();
  auto pool = data::load_training_pool(config);
  auto [train_set, val_set] = data::split_train_val(pool, config);
  data::Normalization norm = existing ? data::normalization_from_json(existing->read_json("normalization.json"),
                                                                      existing->file("normalization.json").string())
                                      : data::compute_normalization(train_set);
  TaskData task;
  task.class_names = pool.class_names;
  task.input.channels = train_set.channels();
  task.input.height = train_set.height();
  task.input.width = train_set.width();
  task.input.num_classes = static_cast<int64_t>(pool.class_names.size());
  task.description = std::to_string(train_set.size()) + " train, " + std::to_string(val_set.size()) +
                     " validation images of " + std::to_string(train_set.height()) + "x" +
                     std::to_string(train_set.width()) + "x" + std::to_string(train_set.channels()) + ", " +
                     std::to_string(pool.class_names.size()) + " classes";
  task.save = [norm, names = pool.class_names](const util::RunDirectory& run) {
    run.write_json("labels.json", names);
    run.write_json("normalization.json", to_json(norm));
  };
  task.train = make_image_source(std::move(train_set), norm, config, recipe.train.batch_size, true, shard);
  task.val = make_image_source(std::move(val_set), norm, config, recipe.train.eval_batch_size, false);
  return task;
}

EvalData prepare_image_evaluation(const TrainedRun& run, const std::string& split, int64_t batch_size) {
  // Label the split with the run's classes (checks labels, maps folders by name).
  auto config = run.recipe.image_data;
  config.class_names = run.class_names;
  auto set = data::load_split(config, split);
  EvalData out;
  out.source = make_image_source(std::move(set), run.normalization, run.recipe.image_data, batch_size, false);
  return out;
}

}  // namespace focus::train
