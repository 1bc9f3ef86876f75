#pragma once
// A Transformer text classifier: TextEncoder over "[CLS] tokens...", then the
// [CLS] state (head "cls") or attention pooling over the real tokens (head
// "attention_pool"), dropout and a linear layer.
// Input batch: inputs = token ids [B, L] (int64), mask = bool [B, L] (true = real token).
#include <string>

#include <torch/nn/modules/linear.h>

#include "focus/models/classifier.h"
#include "focus/models/text_encoder.h"
#include "focus/nn/attention_pool.h"

namespace focus::models {

struct TextTransformerOptions {
  TextEncoderOptions encoder;     ///< embedding, positions and encoder layers
  int64_t num_classes = 2;        ///< output classes (set from the data)
  std::string head = "cls";       ///< "cls" or "attention_pool"
  double head_dropout = 0.1;      ///< dropout before the classifier
  std::string init_from;          ///< run directory of a masked-LM run whose encoder starts this model ("" = random)
};

TextTransformerOptions parse_text_transformer_options(const util::Json& json, const std::string& context);
util::Json to_json(const TextTransformerOptions& options);

class TextTransformerImpl : public Classifier {
 public:
  explicit TextTransformerImpl(TextTransformerOptions options);
  torch::Tensor forward(const data::Batch& batch) override;
  ClassifierOutput forward_with_attention(const data::Batch& batch) override;
  void pretty_print(std::ostream& stream) const override;

  TextTransformerOptions options;
  TextEncoder encoder{nullptr};
  nn::AttentionPool pool{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear classifier{nullptr};

 private:
  torch::Tensor run(const data::Batch& batch, std::vector<NamedAttention>* maps);
};

}  // namespace focus::models
