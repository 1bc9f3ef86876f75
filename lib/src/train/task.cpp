#include "focus/train/task.h"

#include "focus/train/image_task.h"
#include "focus/train/multimodal_task.h"
#include "focus/train/text_task.h"
#include "focus/util/error.h"

namespace focus::train {

TaskData prepare_training(Recipe& recipe, const util::RunDirectory* existing, const data::Shard& shard) {
  if (recipe.is_text()) return prepare_text_training(recipe, existing, shard);
  if (recipe.is_multimodal()) return prepare_multimodal_training(recipe, existing, shard);
  return prepare_image_training(recipe, existing, shard);
}

EvalData prepare_evaluation(const TrainedRun& run, const std::string& split, int64_t batch_size,
                            const std::string& group_by) {
  if (run.recipe.is_text()) return prepare_text_evaluation(run, split, batch_size, group_by);
  if (run.recipe.is_multimodal()) return prepare_multimodal_evaluation(run, split, batch_size, group_by);
  if (!group_by.empty())
    throw Error("--group-by " + group_by + ": image classification data has no fields to group by (text and "
                "multimodal data do)");
  return prepare_image_evaluation(run, split, batch_size);
}

}  // namespace focus::train
