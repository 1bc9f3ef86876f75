#pragma once
// Builds a classifier from a recipe's `model` section.
#include <memory>
#include <string>

#include "focus/models/classifier.h"
#include "focus/util/json_reader.h"

namespace focus::models {

/// What the data tells the model.
struct InputSpec {
  int64_t channels = 1;      ///< images: channels
  int64_t height = 28;       ///< images: height
  int64_t width = 28;        ///< images: width
  int64_t num_classes = 10;  ///< output classes (for a masked LM: the vocabulary)
  int64_t vocab_size = 0;    ///< text: tokenizer vocabulary, special tokens included
  int64_t max_length = 0;    ///< text: longest token sequence, [CLS] included
};
/// The input of an image model.
inline InputSpec image_input(int64_t channels, int64_t num_classes, int64_t height = 28, int64_t width = 28) {
  InputSpec s;
  s.channels = channels;
  s.num_classes = num_classes;
  s.height = height;
  s.width = width;
  return s;
}
util::Json to_json(const InputSpec& input);
InputSpec input_spec_from_json(const util::Json& json, const std::string& origin);

/// What an architecture reads from a batch.
enum class InputKind {
  images,     ///< float [B, C, H, W]
  tokens,     ///< int64 [B, L] + mask
  sentences,  ///< int64 [B, S, W] + mask (hierarchical models)
  image_text, ///< token ids [Q, L] + mask, images [I, C, H, W] and image_index [Q] in Batch::extra
};

/// The architectures this build knows ("attncnn", "vit", "text_transformer", ...).
std::vector<std::string> known_architectures();

/// The "arch" of a model section; throws naming `context` if it is missing or unknown.
std::string architecture_of(const util::Json& model, const std::string& context);
InputKind input_kind(const std::string& arch);

/// Parses every option of the section without building anything, so that a
/// bad recipe fails before data is read. Throws focus::Error.
void check_model_section(const util::Json& model, const std::string& context);

/// Builds the model; `context` names the section in error messages. Throws
/// focus::Error for an unknown architecture or a bad option.
std::shared_ptr<Classifier> build_model(const util::Json& model, const InputSpec& input, const std::string& context);

/// Parameters that require gradients.
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace focus::models
