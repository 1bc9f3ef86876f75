#pragma once
// A recipe (models/*.json) describes one training job: data, model, training.
// Loading is strict: unknown keys and wrong types are errors naming the file
// and the key. The resolved recipe (defaults filled in, overrides applied) is
// what a run directory stores.
#include <string>
#include <vector>

#include "focus/data/image_data_config.h"
#include "focus/data/multimodal_data_config.h"
#include "focus/data/text_data_config.h"
#include "focus/train/train_config.h"
#include "focus/util/json_reader.h"

namespace focus::train {

/// The tasks a recipe can describe.
inline constexpr const char* kImageClassification = "image_classification";
inline constexpr const char* kTextClassification = "text_classification";
inline constexpr const char* kMaskedLm = "masked_lm";
inline constexpr const char* kMultimodalClassification = "multimodal_classification";

struct Recipe {
  std::string name;                ///< run name, e.g. "fashion-attncnn"
  std::string task = kImageClassification;  ///< image_classification, text_classification, masked_lm or multimodal_classification
  data::ImageDataConfig image_data;///< `data` section of an image task
  data::TextDataConfig text_data;  ///< `data` section of a text task
  data::MultimodalDataConfig multimodal_data;  ///< `data` section of an image + text task
  util::Json model;                ///< `model` section, read by models::build_model
  TrainConfig train;               ///< `train` section

  /// Text classification or masked-LM pretraining.
  bool is_text() const { return task == kTextClassification || task == kMaskedLm; }
  bool is_multimodal() const { return task == kMultimodalClassification; }
  /// Whether the run has a tokenizer (text and multimodal tasks).
  bool has_tokenizer() const { return task != kImageClassification; }
  /// Whether the run has image normalisation (image and multimodal tasks).
  bool has_images() const { return task == kImageClassification || task == kMultimodalClassification; }
};

/// Reads a recipe file and applies "key.path=value" overrides.
Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides = {});
/// Parses recipe JSON; `origin` names it in errors.
Recipe parse_recipe(const util::Json& json, const std::string& origin);
/// The resolved recipe as JSON (every default written out).
util::Json to_json(const Recipe& recipe);

}  // namespace focus::train
