// The extra files of a TorchScript archive that Focus reads when it loads
// one (deploy::ScriptModel::load): focus.json, recipe.json and the word
// tokenizer's tokenizer.json. The input holds the three, separated by lines
// "%%" (missing ones are empty).
#include "focus/deploy/script_metadata.h"
#include "focus/data/tokenizer.h"
#include "focus/train/recipe.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace focus;
  const auto first = fuzz::split_once(fuzz::bytes_of(data, size), "\n%%\n");
  const auto second = fuzz::split_once(first.second, "\n%%\n");
  const std::string_view metadata_text = first.first, recipe_text = second.first, tokenizer_text = second.second;
  deploy::ScriptMetadata metadata;
  if (fuzz::accepts([&] {
        metadata = deploy::metadata_from_json(util::parse_json_text(std::string(metadata_text), "focus.json"), "focus.json");
      })) {
    deploy::ScriptMetadata again;
    fuzz::require(fuzz::accepts([&] { again = deploy::metadata_from_json(deploy::to_json(metadata), "again"); }),
                  "accepted metadata reads back");
    fuzz::require(deploy::to_json(again) == deploy::to_json(metadata), "metadata survives the round trip");
  }
  fuzz::accepts([&] { train::parse_recipe(util::parse_json_text(std::string(recipe_text), "recipe.json"), "recipe.json"); });
  auto read = [&](const std::string& name) {
    if (name == data::kTokenizerFile) return std::string(tokenizer_text);
    throw Error("fuzz.pt: the archive has no extra file " + name);
  };
  std::unique_ptr<data::Tokenizer> tokenizer;
  if (fuzz::accepts([&] { tokenizer = data::load_tokenizer(read, "fuzz.pt"); }))
    fuzz::accepts([&] { tokenizer->tokenize("the quick brown fox"); });
  return 0;
}
