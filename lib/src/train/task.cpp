#include "focus/train/task.h"

#include "focus/train/image_task.h"
#include "focus/train/text_task.h"

namespace focus::train {

TaskData prepare_training(Recipe& recipe, const util::RunDirectory* existing) {
  return recipe.is_text() ? prepare_text_training(recipe, existing) : prepare_image_training(recipe, existing);
}

EvalData prepare_evaluation(const TrainedRun& run, const std::string& split, int64_t batch_size) {
  return run.recipe.is_text() ? prepare_text_evaluation(run, split, batch_size)
                              : prepare_image_evaluation(run, split, batch_size);
}

}  // namespace focus::train
