#include "focus/models/vision_transformer.h"

#include "focus/util/error.h"

namespace focus::models {

VisionTransformerOptions parse_vit_options(const util::Json& json, const std::string& context) {
  VisionTransformerOptions o;
  util::ObjectReader r(json, context);
  std::string arch;
  r.read("arch", arch).read("patch", o.patch).read("dim", o.dim).read("layers", o.layers).read("heads", o.heads);
  r.read("ff_dim", o.ff_dim).read("dropout", o.dropout).read("attention_dropout", o.attention_dropout);
  r.finish();
  if (o.patch < 1 || o.dim < 1 || o.layers < 1 || o.heads < 1 || o.ff_dim < 0)
    throw Error(context + ": need patch, dim, layers, heads >= 1 and ff_dim >= 0");
  if (o.dim % o.heads != 0) throw Error(context + ": dim must be divisible by heads");
  if (o.dropout < 0 || o.dropout >= 1 || o.attention_dropout < 0 || o.attention_dropout >= 1)
    throw Error(context + ": dropout and attention_dropout must be in [0, 1)");
  return o;
}

util::Json to_json(const VisionTransformerOptions& o) {
  return {{"arch", "vit"},       {"patch", o.patch},     {"dim", o.dim},
          {"layers", o.layers},  {"heads", o.heads},     {"ff_dim", o.ff_dim},
          {"dropout", o.dropout}, {"attention_dropout", o.attention_dropout}};
}

VisionTransformerImpl::VisionTransformerImpl(VisionTransformerOptions options_) : options(std::move(options_)) {
  if (options.image_height % options.patch != 0 || options.image_width % options.patch != 0)
    throw Error("vit: patch " + std::to_string(options.patch) + " does not divide the image size " +
                std::to_string(options.image_height) + "x" + std::to_string(options.image_width));
  patch_embedding = register_module(
      "patch_embedding",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels, options.dim, options.patch).stride(options.patch)));
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, options.dim}));
  positions = register_parameter("positions", torch::randn({1, patches() + 1, options.dim}) * 0.02);
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout));
  nn::TransformerEncoderLayerOptions layer(options.dim, options.heads);
  layer.ff_dim(options.ff_dim).dropout(options.dropout).attention_dropout(options.attention_dropout);
  encoder = register_module("encoder", nn::TransformerEncoder(nn::TransformerEncoderOptions(layer, options.layers)));
  classifier = register_module("classifier", torch::nn::Linear(options.dim, options.num_classes));
}

int64_t VisionTransformerImpl::patches() const {
  return (options.image_height / options.patch) * (options.image_width / options.patch);
}

torch::Tensor VisionTransformerImpl::run(const data::Batch& batch, std::vector<NamedAttention>* maps) {
  const auto& images = batch.inputs;
  TORCH_CHECK(images.dim() == 4 && images.size(1) == options.in_channels && images.size(2) == options.image_height &&
                  images.size(3) == options.image_width,
              "VisionTransformer: expected images [B, ", options.in_channels, ", ", options.image_height, ", ",
              options.image_width, "], got ", images.sizes());
  auto tokens = patch_embedding(images).flatten(2).transpose(1, 2);  // [B, P, dim]
  tokens = torch::cat({cls_token.expand({tokens.size(0), 1, options.dim}), tokens}, 1) + positions;
  auto encoded = encoder->forward(dropout(tokens), {}, maps != nullptr);
  if (maps) append_encoder_attention(*maps, encoded.weights);
  return classifier(encoded.output.select(1, 0));
}

torch::Tensor VisionTransformerImpl::forward(const data::Batch& batch) { return run(batch, nullptr); }

ClassifierOutput VisionTransformerImpl::forward_with_attention(const data::Batch& batch) {
  ClassifierOutput out;
  out.logits = run(batch, &out.attention);
  return out;
}

void VisionTransformerImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::models::VisionTransformer(image=" << options.in_channels << "x" << options.image_height << "x"
         << options.image_width << ", patch=" << options.patch << ", patches=" << patches() << ", dim=" << options.dim
         << ", layers=" << options.layers << ", heads=" << options.heads << ", classes=" << options.num_classes << ")";
}

}  // namespace focus::models
