#include "focus/train/recipe.h"

#include "focus/models/factory.h"

namespace focus::train {

Recipe parse_recipe(const util::Json& json, const std::string& origin) {
  Recipe recipe;
  const std::string ctx = "recipe " + origin;
  util::ObjectReader r(json, ctx);
  r.read("name", recipe.name);
  r.read_choice("task", recipe.task, {"image_classification"});
  const auto* data = r.find("data");
  if (!data) throw Error(ctx + ": missing required section 'data'");
  recipe.data = data::parse_image_data_config(*data, ctx + ": data");
  const auto* model = r.find("model");
  if (!model) throw Error(ctx + ": missing required section 'model'");
  recipe.model = *model;
  if (const auto* train = r.find("train")) recipe.train = parse_train_config(*train, ctx + ": train");
  r.finish();
  // Check the model section now, so a bad recipe fails before any data is read.
  models::build_model(recipe.model, {1, 2}, ctx + ": model");
  return recipe;
}

Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides) {
  util::Json json = util::parse_json_file(path);
  for (const auto& o : overrides) util::apply_override(json, o);
  return parse_recipe(json, path);
}

util::Json to_json(const Recipe& recipe) {
  return {{"name", recipe.name}, {"task", recipe.task}, {"data", data::to_json(recipe.data)}, {"model", recipe.model},
          {"train", to_json(recipe.train)}};
}

}  // namespace focus::train
