#pragma once
// Masked-language-model pretraining (Devlin et al. 2019) of the TextEncoder:
// a transform (Linear-GELU-LayerNorm) and a decoder tied to the token
// embedding predict the original token at every masked position.
// Input batch: inputs = masked token ids [B, L], mask = bool [B, L] (true =
// real token), extra["mlm_positions"] = bool [B, L] (true = predict here),
// targets = the original ids at those positions, in row-major order [N].
// Output: logits [N, vocab], so the one trainer's cross-entropy and accuracy
// apply unchanged (as masked-token loss and accuracy).
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "focus/data/mlm_masking.h"
#include "focus/models/classifier.h"
#include "focus/models/text_encoder.h"

namespace focus::models {

struct MaskedLanguageModelOptions {
  TextEncoderOptions encoder;
};

MaskedLanguageModelOptions parse_masked_lm_options(const util::Json& json, const std::string& context);
util::Json to_json(const MaskedLanguageModelOptions& options);

class MaskedLanguageModelImpl : public Classifier {
 public:
  explicit MaskedLanguageModelImpl(MaskedLanguageModelOptions options);
  torch::Tensor forward(const data::Batch& batch) override;
  ClassifierOutput forward_with_attention(const data::Batch& batch) override;
  void pretty_print(std::ostream& stream) const override;

  MaskedLanguageModelOptions options;
  TextEncoder encoder{nullptr};
  torch::nn::Linear transform{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::Tensor decoder_bias;

 private:
  torch::Tensor run(const data::Batch& batch, std::vector<NamedAttention>* maps);
};

}  // namespace focus::models
