#include "focus/models/masked_language_model.h"

#include "focus/util/error.h"

namespace focus::models {

MaskedLanguageModelOptions parse_masked_lm_options(const util::Json& json, const std::string& context) {
  MaskedLanguageModelOptions o;
  util::ObjectReader r(json, context);
  std::string arch;
  r.read("arch", arch);
  read_text_encoder_options(r, o.encoder);
  r.finish();
  check(o.encoder, context);
  return o;
}

util::Json to_json(const MaskedLanguageModelOptions& o) {
  util::Json j = to_json(o.encoder);
  j["arch"] = "masked_lm";
  return j;
}

MaskedLanguageModelImpl::MaskedLanguageModelImpl(MaskedLanguageModelOptions options_) : options(std::move(options_)) {
  const int64_t d = options.encoder.dim;
  encoder = register_module("encoder", TextEncoder(options.encoder));
  transform = register_module("transform", torch::nn::Linear(d, d));
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  decoder_bias = register_parameter("decoder_bias", torch::zeros({options.encoder.vocab_size}));
}

torch::Tensor MaskedLanguageModelImpl::run(const data::Batch& batch, std::vector<NamedAttention>* maps) {
  auto it = batch.extra.find(data::kMlmPositions);
  TORCH_CHECK(it != batch.extra.end(), "MaskedLanguageModel: the batch has no '", data::kMlmPositions, "' tensor");
  auto encoded = encoder->forward(batch.inputs, batch.mask, maps != nullptr);
  if (maps) append_encoder_attention(*maps, encoded.weights);
  auto hidden = encoded.output.index({it->second});  // [N, dim], row-major order of the marked positions
  hidden = norm(torch::gelu(transform(hidden)));
  return torch::nn::functional::linear(hidden, encoder->embedding->weight, decoder_bias);
}

torch::Tensor MaskedLanguageModelImpl::forward(const data::Batch& batch) { return run(batch, nullptr); }

ClassifierOutput MaskedLanguageModelImpl::forward_with_attention(const data::Batch& batch) {
  ClassifierOutput out;
  out.logits = run(batch, &out.attention);
  return out;
}

void MaskedLanguageModelImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::models::MaskedLanguageModel(";
  encoder->pretty_print(stream);
  stream << ", decoder tied to the embedding)";
}

}  // namespace focus::models
