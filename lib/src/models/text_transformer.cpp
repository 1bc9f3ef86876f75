#include "focus/models/text_transformer.h"

#include "focus/util/error.h"

namespace focus::models {

TextTransformerOptions parse_text_transformer_options(const util::Json& json, const std::string& context) {
  TextTransformerOptions o;
  util::ObjectReader r(json, context);
  std::string arch;
  r.read("arch", arch);
  read_text_encoder_options(r, o.encoder);
  r.read_choice("head", o.head, {"cls", "attention_pool"});
  r.read("head_dropout", o.head_dropout).read("init_from", o.init_from);
  r.finish();
  check(o.encoder, context);
  if (o.head_dropout < 0 || o.head_dropout >= 1) throw Error(context + ".head_dropout: must be in [0, 1)");
  return o;
}

util::Json to_json(const TextTransformerOptions& o) {
  util::Json j = to_json(o.encoder);
  j["arch"] = "text_transformer";
  j["head"] = o.head;
  j["head_dropout"] = o.head_dropout;
  if (!o.init_from.empty()) j["init_from"] = o.init_from;
  return j;
}

TextTransformerImpl::TextTransformerImpl(TextTransformerOptions options_) : options(std::move(options_)) {
  encoder = register_module("encoder", TextEncoder(options.encoder));
  if (options.head == "attention_pool") pool = register_module("pool", nn::AttentionPool(nn::AttentionPoolOptions(options.encoder.dim)));
  dropout = register_module("dropout", torch::nn::Dropout(options.head_dropout));
  classifier = register_module("classifier", torch::nn::Linear(options.encoder.dim, options.num_classes));
}

torch::Tensor TextTransformerImpl::run(const data::Batch& batch, std::vector<NamedAttention>* maps) {
  TORCH_CHECK(batch.mask.defined(), "TextTransformer: the batch has no padding mask");
  auto encoded = encoder->forward(batch.inputs, batch.mask, maps != nullptr);
  if (maps) append_encoder_attention(*maps, encoded.weights);
  torch::Tensor summary;
  if (pool) {
    auto pooled = pool(encoded.output, batch.mask);
    if (maps) maps->push_back({"head.pool", pooled.weights});
    summary = pooled.pooled;
  } else {
    summary = encoded.output.select(1, 0);  // the [CLS] position
  }
  return classifier(dropout(summary));
}

torch::Tensor TextTransformerImpl::forward(const data::Batch& batch) { return run(batch, nullptr); }

ClassifierOutput TextTransformerImpl::forward_with_attention(const data::Batch& batch) {
  ClassifierOutput out;
  out.logits = run(batch, &out.attention);
  return out;
}

void TextTransformerImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::models::TextTransformer(";
  encoder->pretty_print(stream);
  stream << ", head=" << options.head << ", classes=" << options.num_classes << ")";
}

}  // namespace focus::models
