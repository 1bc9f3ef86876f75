#include "focus/models/text_encoder.h"

#include <cmath>

#include "focus/util/error.h"

namespace focus::models {

void read_text_encoder_options(util::ObjectReader& r, TextEncoderOptions& o) {
  r.read("dim", o.dim).read("layers", o.layers).read("heads", o.heads).read("ff_dim", o.ff_dim);
  r.read_choice("positions", o.positions, {"learned", "sinusoidal"});
  r.read("dropout", o.dropout).read("attention_dropout", o.attention_dropout);
}

util::Json to_json(const TextEncoderOptions& o) {
  return {{"dim", o.dim},           {"layers", o.layers},   {"heads", o.heads},
          {"ff_dim", o.ff_dim},     {"positions", o.positions}, {"dropout", o.dropout},
          {"attention_dropout", o.attention_dropout}};
}

void check(const TextEncoderOptions& o, const std::string& context) {
  if (o.dim < 1 || o.layers < 1 || o.heads < 1 || o.ff_dim < 0)
    throw Error(context + ": need dim, layers and heads >= 1 and ff_dim >= 0");
  if (o.dim % o.heads != 0)
    throw Error(context + ": dim (" + std::to_string(o.dim) + ") must be divisible by heads (" +
                std::to_string(o.heads) + ")");
  if (o.positions == "sinusoidal" && o.dim % 2 != 0) throw Error(context + ": sinusoidal positions need an even dim");
  if (o.dropout < 0 || o.dropout >= 1 || o.attention_dropout < 0 || o.attention_dropout >= 1)
    throw Error(context + ": dropout and attention_dropout must be in [0, 1)");
}

torch::Tensor sinusoidal_positions(int64_t length, int64_t dim) {
  auto position = torch::arange(length, torch::kFloat).unsqueeze(1);
  auto div = torch::exp(torch::arange(0, dim, 2, torch::kFloat) * (-std::log(10000.0) / static_cast<double>(dim)));
  auto table = torch::zeros({length, dim});
  table.index_put_({torch::indexing::Slice(), torch::indexing::Slice(0, torch::indexing::None, 2)},
                   torch::sin(position * div));
  table.index_put_({torch::indexing::Slice(), torch::indexing::Slice(1, torch::indexing::None, 2)},
                   torch::cos(position * div));
  return table;
}

TextEncoderImpl::TextEncoderImpl(TextEncoderOptions options_) : options(std::move(options_)) { reset(); }

void TextEncoderImpl::reset() {
  TORCH_CHECK(options.vocab_size > 0 && options.max_length > 0, "TextEncoder: vocab_size and max_length must be set");
  embedding = register_module(
      "embedding", torch::nn::Embedding(torch::nn::EmbeddingOptions(options.vocab_size, options.dim).padding_idx(0)));
  torch::nn::init::normal_(embedding->weight, 0.0, 0.02);
  {
    torch::NoGradGuard no_grad;
    embedding->weight[0].zero_();
  }
  if (options.positions == "learned") {
    position_table = register_parameter("positions", torch::randn({options.max_length, options.dim}) * 0.02);
  } else {
    position_table = register_buffer("positions", sinusoidal_positions(options.max_length, options.dim));
  }
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout));
  nn::TransformerEncoderLayerOptions layer(options.dim, options.heads);
  layer.ff_dim(options.ff_dim).dropout(options.dropout).attention_dropout(options.attention_dropout);
  encoder = register_module("encoder", nn::TransformerEncoder(nn::TransformerEncoderOptions(layer, options.layers)));
}

void TextEncoderImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::models::TextEncoder(vocab=" << options.vocab_size << ", max_length=" << options.max_length
         << ", dim=" << options.dim << ", layers=" << options.layers << ", heads=" << options.heads
         << ", positions=" << options.positions << ")";
}

nn::EncoderOutput TextEncoderImpl::forward(const torch::Tensor& ids, const torch::Tensor& valid, bool return_weights) {
  TORCH_CHECK(ids.dim() == 2, "TextEncoder: expected token ids [B, L], got ", ids.sizes());
  const int64_t length = ids.size(1);
  TORCH_CHECK(length <= options.max_length, "TextEncoder: sequence of ", length, " tokens is longer than max_length ",
              options.max_length);
  auto x = embedding(ids) + position_table.slice(0, 0, length).unsqueeze(0);
  nn::AttentionMasks masks;
  if (valid.defined()) masks.key_padding = valid.logical_not();
  return encoder->forward(dropout(x), masks, return_weights);
}

}  // namespace focus::models
