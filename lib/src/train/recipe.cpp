#include "focus/train/recipe.h"

#include "focus/models/factory.h"

namespace focus::train {

namespace {
void check_task_fits_model(const Recipe& recipe, const std::string& ctx) {
  const std::string arch = models::architecture_of(recipe.model, ctx + ": model");
  const auto kind = models::input_kind(arch);
  const bool text = kind == models::InputKind::tokens || kind == models::InputKind::sentences;
  const bool fits = recipe.task == kMaskedLm                  ? arch == "masked_lm"
                    : recipe.task == kTextClassification       ? text && arch != "masked_lm"
                    : recipe.task == kMultimodalClassification ? kind == models::InputKind::image_text
                                                               : kind == models::InputKind::images;
  if (!fits)
    throw Error(ctx + ": model.arch \"" + arch + "\" does not fit task \"" + recipe.task +
                "\" (image_classification: attncnn, vit; text_classification: text_transformer, han, "
                "bag_of_embeddings; masked_lm: masked_lm; multimodal_classification: fusion)");
}
}  // namespace

Recipe parse_recipe(const util::Json& json, const std::string& origin) {
  Recipe recipe;
  const std::string ctx = "recipe " + origin;
  util::ObjectReader r(json, ctx);
  r.read("name", recipe.name);
  r.read_choice("task", recipe.task, {kImageClassification, kTextClassification, kMaskedLm, kMultimodalClassification});
  const auto* data = r.find("data");
  if (!data) throw Error(ctx + ": missing required section 'data'");
  if (recipe.is_text()) {
    recipe.text_data = data::parse_text_data_config(*data, ctx + ": data");
  } else if (recipe.is_multimodal()) {
    recipe.multimodal_data = data::parse_multimodal_data_config(*data, ctx + ": data");
  } else {
    recipe.image_data = data::parse_image_data_config(*data, ctx + ": data");
  }
  const auto* model = r.find("model");
  if (!model) throw Error(ctx + ": missing required section 'model'");
  recipe.model = *model;
  if (const auto* train = r.find("train")) recipe.train = parse_train_config(*train, ctx + ": train");
  r.finish();
  // Check the model section now, so a bad recipe fails before any data is read.
  models::check_model_section(recipe.model, ctx + ": model");
  check_task_fits_model(recipe, ctx);
  return recipe;
}

Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides) {
  util::Json json = util::parse_json_file(path);
  for (const auto& o : overrides) util::apply_override(json, o);
  return parse_recipe(json, path);
}

util::Json to_json(const Recipe& recipe) {
  const util::Json data = recipe.is_text()         ? data::to_json(recipe.text_data)
                          : recipe.is_multimodal() ? data::to_json(recipe.multimodal_data)
                                                   : data::to_json(recipe.image_data);
  return {{"name", recipe.name}, {"task", recipe.task}, {"data", data}, {"model", recipe.model},
          {"train", to_json(recipe.train)}};
}

}  // namespace focus::train
