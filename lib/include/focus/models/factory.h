#pragma once
// Builds a classifier from a recipe's `model` section.
#include <memory>
#include <string>

#include "focus/models/classifier.h"
#include "focus/util/json_reader.h"

namespace focus::models {

/// What the data tells the model.
struct InputSpec {
  int64_t channels = 1;     ///< image channels
  int64_t num_classes = 10; ///< output classes
};

/// The architectures this build knows ("attncnn", ...).
std::vector<std::string> known_architectures();

/// Builds the model; `context` names the section in error messages. Throws
/// focus::Error for an unknown architecture or a bad option.
std::shared_ptr<Classifier> build_model(const util::Json& model, const InputSpec& input, const std::string& context);

/// Parameters that require gradients.
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace focus::models
