#include "focus/nn/transformer_encoder.h"

#include <algorithm>
#include <vector>

#include <torch/nn/functional/activation.h>

#include "focus/nn/linear.h"
#include "focus/nn/small_ops.h"
#include "split_over_threads.h"

namespace focus::nn {

TransformerEncoderLayerImpl::TransformerEncoderLayerImpl(const TransformerEncoderLayerOptions& options_)
    : options(options_) {
  reset();
}

void TransformerEncoderLayerImpl::reset() {
  const int64_t d = options.d_model();
  const int64_t ff = options.ff_dim() > 0 ? options.ff_dim() : 4 * d;
  auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(options.layer_norm_eps())); };
  norm1 = register_module("norm1", ln());
  attention = register_module(
      "attention",
      MultiHeadAttention(MultiHeadAttentionOptions(d, options.num_heads()).dropout(options.attention_dropout())));
  norm2 = register_module("norm2", ln());
  ff1 = register_module("ff1", torch::nn::Linear(d, ff));
  ff2 = register_module("ff2", torch::nn::Linear(ff, d));
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout()));
}

void TransformerEncoderLayerImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::nn::TransformerEncoderLayer(d_model=" << options.d_model() << ", num_heads=" << options.num_heads()
         << ", ff_dim=" << (options.ff_dim() > 0 ? options.ff_dim() : 4 * options.d_model())
         << ", dropout=" << options.dropout() << ", norm=pre, activation=gelu)";
}

AttentionOutput TransformerEncoderLayerImpl::forward(const torch::Tensor& x, const AttentionMasks& masks) {
  auto normed = layer_norm(norm1, x);
  auto attended = attention(normed, normed, normed, masks);
  auto y = x + dropout(attended.output);
  y = y + dropout(linear(ff2, torch::gelu(linear(ff1, layer_norm(norm2, y)))));
  return {y, attended.weights};
}

TransformerEncoderImpl::TransformerEncoderImpl(const TransformerEncoderOptions& options_) : options(options_) {
  reset();
}

void TransformerEncoderImpl::reset() {
  TORCH_CHECK(options.num_layers() > 0, "TransformerEncoder: num_layers must be positive");
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.num_layers(); ++i) layers->push_back(TransformerEncoderLayer(options.layer()));
  if (options.final_norm())
    norm = register_module(
        "norm", torch::nn::LayerNorm(
                    torch::nn::LayerNormOptions({options.layer().d_model()}).eps(options.layer().layer_norm_eps())));
}

void TransformerEncoderImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::nn::TransformerEncoder(num_layers=" << options.num_layers() << ", d_model="
         << options.layer().d_model() << ", num_heads=" << options.layer().num_heads() << ")";
}

namespace {

/// Inference runs the batch through the stack in chunks of about this many
/// tokens, so that each chunk's activations stay in cache from one layer to the
/// next (tall matrix products and the attention are memory-bound otherwise).
/// With more than one intra-op thread and at least two chunks, the chunks are
/// shared out among the threads, each running whole chunks with every operator
/// on its own thread, rather than every operator of every chunk being split
/// over the threads: one fork and join per batch instead of dozens per chunk.
constexpr int64_t kChunkTokens = 512;

AttentionMasks narrow_masks(const AttentionMasks& masks, int64_t start, int64_t length) {
  AttentionMasks part = masks;
  if (masks.key_padding.defined()) part.key_padding = masks.key_padding.narrow(0, start, length);
  if (masks.attn.defined() && masks.attn.dim() == 3) part.attn = masks.attn.narrow(0, start, length);
  if (masks.bias.defined() && masks.bias.dim() == 4 && masks.bias.size(0) > 1)
    part.bias = masks.bias.narrow(0, start, length);
  return part;
}

}  // namespace

EncoderOutput TransformerEncoderImpl::forward(const torch::Tensor& x, const AttentionMasks& masks,
                                              bool return_weights) {
  TORCH_CHECK(x.dim() == 3, "TransformerEncoder: input must be [B, L, d_model], got ", x.sizes());
  const int64_t b = x.size(0), chunk = std::max<int64_t>(1, kChunkTokens / std::max<int64_t>(1, x.size(1)));
  if (return_weights || torch::GradMode::is_enabled() || chunk >= b) return run(x, masks, return_weights);
  const int64_t chunks = (b + chunk - 1) / chunk;
  std::vector<torch::Tensor> parts(static_cast<size_t>(chunks));
  auto run_chunks = [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const int64_t start = c * chunk, n = std::min(chunk, b - start);
      parts[static_cast<size_t>(c)] = run(x.narrow(0, start, n), narrow_masks(masks, start, n), false).output;
    }
  };
  // In training mode (dropout drawn without gradients) the chunks run in order:
  // threads drawing from the generator in any order would break reproducibility.
  if (detail::may_split(x) && !is_training())
    detail::split_over_threads(chunks, 1, run_chunks);
  else
    run_chunks(0, chunks);
  return {torch::cat(parts), {}};
}

EncoderOutput TransformerEncoderImpl::run(const torch::Tensor& x, const AttentionMasks& masks, bool return_weights) {
  EncoderOutput out;
  auto y = x;
  for (const auto& module : *layers) {
    auto step = module->as<TransformerEncoderLayerImpl>()->forward(y, masks);
    y = step.output;
    if (return_weights) out.weights.push_back(step.weights);
  }
  out.output = norm ? layer_norm(norm, y) : y;
  return out;
}

}  // namespace focus::nn
