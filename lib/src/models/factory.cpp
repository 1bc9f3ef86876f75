#include "focus/models/factory.h"

#include "focus/models/attn_cnn.h"
#include "focus/models/bag_of_embeddings.h"
#include "focus/models/fusion_net.h"
#include "focus/models/hierarchical_attention_net.h"
#include "focus/models/masked_language_model.h"
#include "focus/models/text_transformer.h"
#include "focus/models/vision_transformer.h"
#include "focus/util/error.h"

namespace focus::models {

util::Json to_json(const InputSpec& s) {
  return {{"channels", s.channels},       {"height", s.height},         {"width", s.width},
          {"num_classes", s.num_classes}, {"vocab_size", s.vocab_size}, {"max_length", s.max_length}};
}

InputSpec input_spec_from_json(const util::Json& json, const std::string& origin) {
  InputSpec s;
  util::ObjectReader r(json, origin);
  r.require("channels", s.channels).require("height", s.height).require("width", s.width);
  r.require("num_classes", s.num_classes).require("vocab_size", s.vocab_size).require("max_length", s.max_length);
  r.finish();
  return s;
}

std::vector<std::string> known_architectures() {
  return {"attncnn", "vit", "text_transformer", "bag_of_embeddings", "han", "masked_lm", "fusion"};
}

std::string architecture_of(const util::Json& model, const std::string& context) {
  std::string known;
  for (const auto& a : known_architectures()) known += (known.empty() ? "" : ", ") + a;
  if (!model.is_object()) throw Error(context + ": expected an object, found " + util::json_type_name(model));
  if (!model.contains("arch") || !model["arch"].is_string())
    throw Error(context + ".arch: expected a string naming the architecture (one of: " + known + ")");
  const std::string arch = model["arch"].get<std::string>();
  const auto all = known_architectures();
  if (std::find(all.begin(), all.end(), arch) == all.end())
    throw Error(context + ".arch: unknown architecture \"" + arch + "\" (known: " + known + ")");
  return arch;
}

InputKind input_kind(const std::string& arch) {
  if (arch == "attncnn" || arch == "vit") return InputKind::images;
  if (arch == "han") return InputKind::sentences;
  if (arch == "fusion") return InputKind::image_text;
  return InputKind::tokens;
}

void check_model_section(const util::Json& model, const std::string& context) {
  const std::string arch = architecture_of(model, context);
  if (arch == "attncnn") parse_attn_cnn_options(model, context);
  if (arch == "vit") parse_vit_options(model, context);
  if (arch == "text_transformer") parse_text_transformer_options(model, context);
  if (arch == "bag_of_embeddings") parse_bag_of_embeddings_options(model, context);
  if (arch == "han") parse_han_options(model, context);
  if (arch == "masked_lm") parse_masked_lm_options(model, context);
  if (arch == "fusion") parse_fusion_net_options(model, context);
}

std::shared_ptr<Classifier> build_model(const util::Json& model, const InputSpec& input, const std::string& context) {
  const std::string arch = architecture_of(model, context);
  if (input_kind(arch) != InputKind::images && input.vocab_size <= 0)
    throw Error(context + ": architecture " + arch + " reads text, but the data gives no vocabulary");
  if (arch == "attncnn") {
    auto o = parse_attn_cnn_options(model, context);
    o.in_channels = input.channels;
    o.num_classes = input.num_classes;
    return std::make_shared<AttnCNNImpl>(o);
  }
  if (arch == "vit") {
    auto o = parse_vit_options(model, context);
    o.in_channels = input.channels;
    o.image_height = input.height;
    o.image_width = input.width;
    o.num_classes = input.num_classes;
    return std::make_shared<VisionTransformerImpl>(o);
  }
  if (arch == "text_transformer") {
    auto o = parse_text_transformer_options(model, context);
    o.encoder.vocab_size = input.vocab_size;
    o.encoder.max_length = input.max_length;
    o.num_classes = input.num_classes;
    return std::make_shared<TextTransformerImpl>(o);
  }
  if (arch == "bag_of_embeddings") {
    auto o = parse_bag_of_embeddings_options(model, context);
    o.vocab_size = input.vocab_size;
    o.num_classes = input.num_classes;
    return std::make_shared<BagOfEmbeddingsImpl>(o);
  }
  if (arch == "han") {
    auto o = parse_han_options(model, context);
    o.vocab_size = input.vocab_size;
    o.num_classes = input.num_classes;
    return std::make_shared<HierarchicalAttentionNetImpl>(o);
  }
  if (arch == "fusion") {
    auto o = parse_fusion_net_options(model, context);
    o.in_channels = input.channels;
    o.text.vocab_size = input.vocab_size;
    o.text.max_length = input.max_length;
    o.num_classes = input.num_classes;
    return std::make_shared<FusionNetImpl>(o);
  }
  auto o = parse_masked_lm_options(model, context);
  o.encoder.vocab_size = input.vocab_size;
  o.encoder.max_length = input.max_length;
  return std::make_shared<MaskedLanguageModelImpl>(o);
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters())
    if (p.requires_grad()) n += p.numel();
  return n;
}

}  // namespace focus::models
