#pragma once
// Multi-head scaled dot-product attention (Vaswani et al. 2017) with separate
// query/key/value projections, batch-first tensors, key-padding and causal
// masks, an additive score bias, and dropout on the attention weights.
// Returns per-head weights.
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace focus::nn {

struct MultiHeadAttentionOptions {
  MultiHeadAttentionOptions(int64_t embed_dim, int64_t num_heads) : embed_dim_(embed_dim), num_heads_(num_heads) {}
  /// Model width E; must be divisible by num_heads.
  TORCH_ARG(int64_t, embed_dim);
  /// Number of heads H; each head has E / H dimensions.
  TORCH_ARG(int64_t, num_heads);
  /// Width of keys (0 = embed_dim), e.g. image features attended by text.
  TORCH_ARG(int64_t, kdim) = 0;
  /// Width of values (0 = embed_dim).
  TORCH_ARG(int64_t, vdim) = 0;
  /// Dropout probability on the attention weights during training.
  TORCH_ARG(double, dropout) = 0.0;
  /// Whether the four projections have a bias.
  TORCH_ARG(bool, bias) = true;
};

struct AttentionMasks {
  /// bool [B, Lk]; true marks padding keys that must not be attended.
  torch::Tensor key_padding;
  /// bool [Lq, Lk] or [B, Lq, Lk]; true marks forbidden pairs.
  torch::Tensor attn;
  /// Forbid attending to later positions (requires Lq == Lk).
  bool causal = false;
  /// float, broadcastable to [B, H, Lq, Lk]: added to the scaled scores before
  /// the softmax (a learned position bias, for example); may require grad.
  torch::Tensor bias;
};

struct AttentionOutput {
  torch::Tensor output;   ///< [B, Lq, E]
  torch::Tensor weights;  ///< [B, H, Lq, Lk], after masking, before dropout
};

class MultiHeadAttentionImpl : public torch::nn::Cloneable<MultiHeadAttentionImpl> {
 public:
  explicit MultiHeadAttentionImpl(const MultiHeadAttentionOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// query [B, Lq, E], key [B, Lk, kdim], value [B, Lk, vdim].
  AttentionOutput forward(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                          const AttentionMasks& masks = {});
  /// Cross-attention where many queries share few key/value sets (e.g. the
  /// questions about one image): key [G, Lk, kdim], value [G, Lk, vdim], and
  /// group int64 [B] naming the set of each query row. Keys and values are
  /// projected once per set. Equals forward() with key.index_select(0, group).
  AttentionOutput forward_grouped(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                                  const torch::Tensor& group, const AttentionMasks& masks = {});

  MultiHeadAttentionOptions options;
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
  torch::nn::Dropout attn_dropout{nullptr};

 private:
  /// Attention over projected queries [B, Lq, E], keys and values [B, Lk, E].
  AttentionOutput attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                         const AttentionMasks& masks);
};
TORCH_MODULE(MultiHeadAttention);

}  // namespace focus::nn
