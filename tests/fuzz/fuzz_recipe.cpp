// Recipes and --set overrides: the input is the recipe JSON, then a line
// "%%", then one key.path=value override per line. An accepted recipe must
// survive the round trip through its resolved JSON (what a run directory
// stores and later tools read back).
#include "focus/train/recipe.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace focus;
  const auto parts = fuzz::split_once(fuzz::bytes_of(data, size), "\n%%\n");
  const std::string_view json_text = parts.first, override_text = parts.second;
  std::vector<std::string> overrides;
  for (std::string_view rest = override_text; !rest.empty();) {
    const auto [line, tail] = fuzz::split_once(rest, "\n");
    overrides.emplace_back(line);
    rest = tail;
  }
  train::Recipe recipe;
  if (!fuzz::accepts([&] {
        util::Json json = util::parse_json_text(std::string(json_text), "fuzz.json");
        for (const auto& o : overrides) util::apply_override(json, o);
        recipe = train::parse_recipe(json, "fuzz.json");
      }))
    return 0;
  std::string first, second;
  fuzz::require(fuzz::accepts([&] { first = train::to_json(recipe).dump(); }), "an accepted recipe can be written");
  fuzz::require(fuzz::accepts([&] {
                  second = train::to_json(train::parse_recipe(util::parse_json_text(first, "resolved.json"), "resolved.json")).dump();
                }),
                "the resolved recipe reads back");
  fuzz::require(first == second, "the resolved recipe reads back unchanged");
  return 0;
}
