#include "focus/nn/transformer_encoder.h"

#include <torch/nn/functional/activation.h>

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
  auto normed = norm1(x);
  auto attended = attention(normed, normed, normed, masks);
  auto y = x + dropout(attended.output);
  y = y + dropout(ff2(torch::gelu(ff1(norm2(y)))));
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

EncoderOutput TransformerEncoderImpl::forward(const torch::Tensor& x, const AttentionMasks& masks,
                                              bool return_weights) {
  EncoderOutput out;
  auto y = x;
  for (const auto& module : *layers) {
    auto step = module->as<TransformerEncoderLayerImpl>()->forward(y, masks);
    y = step.output;
    if (return_weights) out.weights.push_back(step.weights);
  }
  out.output = norm ? norm(y) : y;
  return out;
}

}  // namespace focus::nn
