#pragma once
// Pre-norm Transformer encoder (as in ViT and GPT-2):
//   x = x + Dropout(MHA(LN(x)));  x = x + Dropout(FFN(LN(x))),  FFN = Linear-GELU-Linear.
// Each layer can return its attention weights; the stack returns all of them.
#include <vector>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "focus/nn/multi_head_attention.h"

namespace focus::nn {

struct TransformerEncoderLayerOptions {
  TransformerEncoderLayerOptions(int64_t d_model, int64_t num_heads) : d_model_(d_model), num_heads_(num_heads) {}
  /// Model width.
  TORCH_ARG(int64_t, d_model);
  /// Attention heads; must divide d_model.
  TORCH_ARG(int64_t, num_heads);
  /// Hidden width of the feed-forward block (0 = 4 * d_model).
  TORCH_ARG(int64_t, ff_dim) = 0;
  /// Dropout after attention and feed-forward (residual dropout).
  TORCH_ARG(double, dropout) = 0.1;
  /// Dropout on attention weights.
  TORCH_ARG(double, attention_dropout) = 0.0;
  /// Epsilon of the layer norms.
  TORCH_ARG(double, layer_norm_eps) = 1e-5;
};

class TransformerEncoderLayerImpl : public torch::nn::Cloneable<TransformerEncoderLayerImpl> {
 public:
  explicit TransformerEncoderLayerImpl(const TransformerEncoderLayerOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// x: [B, L, d_model]. Returns the new x and this layer's weights [B, H, L, L].
  AttentionOutput forward(const torch::Tensor& x, const AttentionMasks& masks = {});

  TransformerEncoderLayerOptions options;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  MultiHeadAttention attention{nullptr};
  torch::nn::Linear ff1{nullptr}, ff2{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(TransformerEncoderLayer);

struct TransformerEncoderOptions {
  TransformerEncoderOptions(TransformerEncoderLayerOptions layer, int64_t num_layers)
      : layer_(std::move(layer)), num_layers_(num_layers) {}
  /// Options shared by every layer.
  TORCH_ARG(TransformerEncoderLayerOptions, layer);
  /// Number of layers.
  TORCH_ARG(int64_t, num_layers);
  /// Apply a final layer norm (needed with pre-norm layers).
  TORCH_ARG(bool, final_norm) = true;
};

struct EncoderOutput {
  torch::Tensor output;                ///< [B, L, d_model]
  std::vector<torch::Tensor> weights;  ///< one [B, H, L, L] per layer (empty unless requested)
};

class TransformerEncoderImpl : public torch::nn::Cloneable<TransformerEncoderImpl> {
 public:
  explicit TransformerEncoderImpl(const TransformerEncoderOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// x: [B, L, d_model]. Without weights and without autograd (inference), the
  /// batch goes through the stack in cache-sized chunks of examples; the output
  /// is the same up to float rounding.
  EncoderOutput forward(const torch::Tensor& x, const AttentionMasks& masks = {}, bool return_weights = false);

  TransformerEncoderOptions options;
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  /// The stack over the whole of x.
  EncoderOutput run(const torch::Tensor& x, const AttentionMasks& masks, bool return_weights);
};
TORCH_MODULE(TransformerEncoder);

}  // namespace focus::nn
