#include "focus/train/trained_run.h"

#include "focus/models/factory.h"
#include "focus/train/checkpoint.h"

namespace focus::train {

TrainedRun load_trained_run(const std::string& run_dir, const std::string& checkpoint, const torch::Device& device) {
  auto dir = util::RunDirectory::open(run_dir);
  Recipe recipe = parse_recipe(dir.read_json("recipe.json"), dir.file("recipe.json").string());
  std::vector<std::string> labels;
  util::convert(dir.read_json("labels.json"), dir.file("labels.json").string(), labels);
  auto norm = data::normalization_from_json(dir.read_json("normalization.json"), dir.file("normalization.json").string());
  auto model = models::build_model(recipe.model,
                                   {static_cast<int64_t>(norm.mean.size()), static_cast<int64_t>(labels.size())},
                                   dir.file("recipe.json").string() + ": model");
  load_checkpoint(dir.file(checkpoint), *model, nullptr, nullptr, /*restore_rng=*/false);
  model->to(device);
  model->eval();
  return {dir, std::move(recipe), std::move(labels), std::move(norm), std::move(model)};
}

}  // namespace focus::train
