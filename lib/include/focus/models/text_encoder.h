#pragma once
// The text encoder shared by the text classifier and masked-LM pretraining:
// token embedding + positions (learned or sinusoidal) + dropout + a pre-norm
// Transformer encoder. Padding is masked in every attention layer, so real
// tokens never see padding and a padded sequence encodes like an unpadded one.
#include <string>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include "focus/nn/transformer_encoder.h"
#include "focus/util/json_reader.h"

namespace focus::models {

struct TextEncoderOptions {
  int64_t vocab_size = 0;           ///< tokens, including the special ones (set from the tokenizer)
  int64_t max_length = 256;         ///< longest sequence, [CLS] included (set from the data)
  int64_t dim = 128;                ///< model width
  int64_t layers = 2;               ///< encoder layers
  int64_t heads = 4;                ///< attention heads per layer
  int64_t ff_dim = 0;               ///< feed-forward width (0 = 4 * dim)
  std::string positions = "learned";///< "learned" or "sinusoidal"
  double dropout = 0.1;             ///< embedding and residual dropout
  double attention_dropout = 0.0;   ///< dropout on attention weights
};

/// Reads the encoder keys of a model section (dim, layers, heads, ff_dim,
/// positions, dropout, attention_dropout) through `reader`.
void read_text_encoder_options(util::ObjectReader& reader, TextEncoderOptions& options);
/// The same keys as JSON.
util::Json to_json(const TextEncoderOptions& options);
/// Throws focus::Error (naming `context`) for an inconsistent setting.
void check(const TextEncoderOptions& options, const std::string& context);

/// Sinusoidal position table [length, dim] (Vaswani et al. 2017, section 3.5).
torch::Tensor sinusoidal_positions(int64_t length, int64_t dim);

class TextEncoderImpl : public torch::nn::Cloneable<TextEncoderImpl> {
 public:
  explicit TextEncoderImpl(TextEncoderOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// ids: int64 [B, L]; valid: bool [B, L], true = real token. Returns the
  /// hidden states [B, L, dim] and, if asked, every layer's weights.
  nn::EncoderOutput forward(const torch::Tensor& ids, const torch::Tensor& valid, bool return_weights = false);

  TextEncoderOptions options;
  torch::nn::Embedding embedding{nullptr};
  torch::Tensor position_table;     ///< learned parameter or fixed buffer, [max_length, dim]
  torch::nn::Dropout dropout{nullptr};
  nn::TransformerEncoder encoder{nullptr};
};
TORCH_MODULE(TextEncoder);

}  // namespace focus::models
