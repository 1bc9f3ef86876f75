#pragma once
// What a Focus TorchScript archive says about itself: the extra file
// "focus.json" next to "recipe.json" and the tokenizer's files. A reader needs
// it to turn raw inputs (image files, texts) into the tensors forward() takes,
// and to name the classes.
#include <string>
#include <vector>

#include "focus/data/normalization.h"
#include "focus/data/text_encoding.h"
#include "focus/models/factory.h"
#include "focus/util/json_reader.h"

namespace focus::deploy {

/// Names of the extra files inside an exported archive.
inline constexpr const char* kMetadataFile = "focus.json";
inline constexpr const char* kRecipeFile = "recipe.json";
inline constexpr int kMetadataVersion = 1;

struct ScriptMetadata {
  std::string arch;                      ///< "attncnn", "vit", ... ("" for a model Focus did not build)
  models::InputKind input = models::InputKind::images;
  std::vector<std::string> class_names;  ///< by logit index
  // images (images and image_text inputs)
  int64_t channels = 0, height = 0, width = 0;
  data::Normalization normalization;     ///< per channel, on the [0, 1] pixel scale
  // text (tokens, sentences and image_text inputs)
  data::TextEncodingOptions text;        ///< layout and truncation, as in training
  std::string tokenizer;                 ///< "word" or "sentencepiece"; "" without text
  std::vector<std::string> tokenizer_files;  ///< extra files holding the tokenizer
  std::string quantization = "none";     ///< "none" or "int8" (dynamic, Linear layers)
};

/// "images", "tokens", "sentences" or "image_text".
std::string input_kind_name(models::InputKind kind);
models::InputKind input_kind_from_name(const std::string& name, const std::string& context);

util::Json to_json(const ScriptMetadata& m);
/// Throws focus::Error naming `origin` for a missing or bad field, or a
/// format version this build does not read.
ScriptMetadata metadata_from_json(const util::Json& json, const std::string& origin);

}  // namespace focus::deploy
