#include "focus/train/trained_run.h"

#include "focus/train/checkpoint.h"

namespace focus::train {

TrainedRun load_trained_run(const std::string& run_dir, const std::string& checkpoint, const torch::Device& device) {
  auto dir = util::RunDirectory::open(run_dir);
  Recipe recipe = parse_recipe(dir.read_json("recipe.json"), dir.file("recipe.json").string());
  std::vector<std::string> labels;
  util::convert(dir.read_json("labels.json"), dir.file("labels.json").string(), labels);
  data::Normalization norm;
  std::shared_ptr<data::Tokenizer> tokenizer;
  models::InputSpec input;
  if (dir.exists("input.json")) {
    input = models::input_spec_from_json(dir.read_json("input.json"), dir.file("input.json").string());
  } else if (recipe.task != kImageClassification) {
    throw Error(dir.file("input.json").string() + " is missing: the run is incomplete");
  }
  if (recipe.has_tokenizer()) tokenizer = data::load_tokenizer(dir.root());
  if (recipe.has_images()) {
    norm = data::normalization_from_json(dir.read_json("normalization.json"), dir.file("normalization.json").string());
    if (!dir.exists("input.json")) {  // runs from before input.json: 28x28 IDX images
      input.channels = static_cast<int64_t>(norm.mean.size());
      input.num_classes = static_cast<int64_t>(labels.size());
    }
  }
  auto model = models::build_model(recipe.model, input, dir.file("recipe.json").string() + ": model");
  load_checkpoint(dir.file(checkpoint), *model, nullptr, nullptr, /*restore_rng=*/false);
  model->to(device);
  model->eval();
  return {dir, std::move(recipe), std::move(labels), input, std::move(norm), std::move(tokenizer), std::move(model)};
}

}  // namespace focus::train
