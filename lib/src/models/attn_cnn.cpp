#include "focus/models/attn_cnn.h"

#include "focus/nn/batch_norm.h"
#include "focus/nn/conv2d.h"
#include "focus/nn/pooling.h"
#include "focus/util/error.h"

namespace focus::models {

std::vector<StageOptions> parse_stages(const util::Json& stages, const std::string& context) {
  if (!stages.is_array() || stages.empty())
    throw Error(context + ": expected a non-empty array of stages, found " + util::json_type_name(stages));
  std::vector<StageOptions> out;
  for (size_t i = 0; i < stages.size(); ++i) {
    StageOptions s;
    util::ObjectReader sr(stages[i], context + "[" + std::to_string(i) + "]");
    sr.require("channels", s.channels).read("blocks", s.blocks).read("stride", s.stride);
    sr.read_choice("attention", s.attention, {"none", "se", "cbam", "nonlocal"});
    sr.finish();
    if (s.channels < 1 || s.blocks < 1 || (s.stride != 1 && s.stride != 2))
      throw Error(sr.where("channels") + ": need channels >= 1, blocks >= 1 and stride 1 or 2");
    out.push_back(s);
  }
  return out;
}

util::Json to_json(const std::vector<StageOptions>& stages) {
  util::Json out = util::Json::array();
  for (const auto& s : stages)
    out.push_back({{"channels", s.channels}, {"blocks", s.blocks}, {"stride", s.stride}, {"attention", s.attention}});
  return out;
}

AttnCNNOptions parse_attn_cnn_options(const util::Json& json, const std::string& context) {
  AttnCNNOptions o;
  util::ObjectReader r(json, context);
  std::string arch;
  r.read("arch", arch);
  r.read("stem_channels", o.stem_channels);
  if (const auto* stages = r.find("stages")) o.stages = parse_stages(*stages, r.where("stages"));
  r.read_choice("head", o.head, {"attention_pool", "avg"});
  r.read("dropout", o.dropout).read("reduction", o.reduction).read("zero_init_residual", o.zero_init_residual);
  r.finish();
  if (o.stem_channels < 1 || o.reduction < 1 || o.dropout < 0 || o.dropout >= 1)
    throw Error(context + ": need stem_channels >= 1, reduction >= 1 and 0 <= dropout < 1");
  return o;
}

util::Json to_json(const AttnCNNOptions& o) {
  return {{"arch", "attncnn"}, {"stem_channels", o.stem_channels}, {"stages", to_json(o.stages)}, {"head", o.head},
          {"dropout", o.dropout}, {"reduction", o.reduction}, {"zero_init_residual", o.zero_init_residual}};
}

ResidualBlockImpl::ResidualBlockImpl(int64_t in_, int64_t out_, int64_t stride_, std::string attention_,
                                     int64_t reduction_, bool zero_init_)
    : in(in_), out(out_), stride(stride_), reduction(reduction_), zero_init(zero_init_), attention(std::move(attention_)) {
  reset();
}

void ResidualBlockImpl::reset() {
  using torch::nn::Conv2dOptions;
  conv1 = register_module("conv1", torch::nn::Conv2d(Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(out));
  conv2 = register_module("conv2", torch::nn::Conv2d(Conv2dOptions(out, out, 3).padding(1).bias(false)));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(out));
  if (stride != 1 || in != out) {
    shortcut = register_module(
        "shortcut", torch::nn::Sequential(torch::nn::Conv2d(Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                                          torch::nn::BatchNorm2d(out)));
  }
  if (attention == "se") se = register_module("se", nn::SqueezeExcitation(nn::SqueezeExcitationOptions(out).reduction(reduction)));
  if (attention == "cbam") cbam = register_module("cbam", nn::Cbam(nn::CbamOptions(out).reduction(reduction)));
  if (attention == "nonlocal") nonlocal = register_module("nonlocal", nn::NonLocal(nn::NonLocalOptions(out)));
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2dImpl>())
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
  }
  if (zero_init) torch::nn::init::zeros_(bn2->weight);
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x, std::vector<NamedAttention>* maps,
                                         const std::string& name) {
  auto y = nn::batch_norm(*bn1, nn::conv2d(conv1, x), /*relu=*/true);
  y = nn::batch_norm(*bn2, nn::conv2d(conv2, y));
  if (se) {
    auto r = se(y);
    y = r.output;
    if (maps) maps->push_back({name + ".se.channel", r.weights});
  } else if (cbam) {
    auto r = cbam(y);
    y = r.output;
    if (maps) {
      maps->push_back({name + ".cbam.channel", r.channel_weights});
      maps->push_back({name + ".cbam.spatial", r.spatial_map});
    }
  }
  torch::Tensor identity = x;
  if (shortcut) {  // the 1x1 projection, then its batch norm
    auto* norm = shortcut[1]->as<torch::nn::BatchNorm2dImpl>();
    identity = nn::batch_norm(*norm, shortcut[0]->as<torch::nn::Conv2dImpl>()->forward(x));
  }
  y = torch::relu(y + identity);
  if (nonlocal) {
    auto r = nonlocal(y);
    y = r.output;
    if (maps) maps->push_back({name + ".nonlocal.affinity", r.affinity});
  }
  return y;
}

AttnCNNImpl::AttnCNNImpl(AttnCNNOptions options_) : options(std::move(options_)) {
  TORCH_CHECK(!options.stages.empty(), "AttnCNN: needs at least one stage");
  using torch::nn::Conv2dOptions;
  stem = register_module("stem",
                         torch::nn::Conv2d(Conv2dOptions(options.in_channels, options.stem_channels, 3).padding(1).bias(false)));
  stem_bn = register_module("stem_bn", torch::nn::BatchNorm2d(options.stem_channels));
  torch::nn::init::kaiming_normal_(stem->weight, 0.0, torch::kFanOut, torch::kReLU);
  int64_t channels = options.stem_channels;
  for (size_t s = 0; s < options.stages.size(); ++s) {
    const auto& st = options.stages[s];
    for (int64_t b = 0; b < st.blocks; ++b) {
      const std::string name = "stage" + std::to_string(s + 1) + ".block" + std::to_string(b);
      blocks.push_back(register_module(
          "stage" + std::to_string(s + 1) + "_block" + std::to_string(b),
          ResidualBlock(channels, st.channels, b == 0 ? st.stride : 1, st.attention, options.reduction,
                        options.zero_init_residual)));
      block_names.push_back(name);
      channels = st.channels;
    }
  }
  if (options.head == "attention_pool") pool = register_module("pool", nn::AttentionPool(nn::AttentionPoolOptions(channels)));
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout));
  classifier = register_module("classifier", torch::nn::Linear(channels, options.num_classes));
}

torch::Tensor AttnCNNImpl::forward_images(const torch::Tensor& images, std::vector<NamedAttention>* maps,
                                          std::vector<NamedAttention>* activations) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == options.in_channels, "AttnCNN: expected images [B, ",
              options.in_channels, ", H, W], got ", images.sizes());
  auto x = nn::batch_norm(*stem_bn, nn::conv2d(stem, images), /*relu=*/true);
  for (size_t i = 0; i < blocks.size(); ++i) {
    x = blocks[i]->forward(x, maps, block_names[i]);
    const std::string stage = block_names[i].substr(0, block_names[i].find('.'));
    const bool last_of_stage = i + 1 == blocks.size() || block_names[i + 1].rfind(stage + ".", 0) != 0;
    if (activations && last_of_stage) activations->push_back({stage, x});
  }
  torch::Tensor features;
  if (pool) {
    auto r = pool(x.flatten(2).transpose(1, 2));  // positions as the set to pool
    features = r.pooled;
    if (maps) maps->push_back({"head.attention_pool", r.weights.view({x.size(0), 1, x.size(2), x.size(3)})});
  } else {
    features = nn::spatial_mean(x);
  }
  return classifier(dropout(features));
}

torch::Tensor AttnCNNImpl::forward(const data::Batch& batch) { return forward_images(batch.inputs); }

ClassifierOutput AttnCNNImpl::forward_with_attention(const data::Batch& batch) {
  ClassifierOutput out;
  out.logits = forward_images(batch.inputs, &out.attention, &out.activations);
  return out;
}

void AttnCNNImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::models::AttnCNN(in_channels=" << options.in_channels << ", num_classes=" << options.num_classes
         << ", stem=" << options.stem_channels << ", stages=[";
  for (size_t i = 0; i < options.stages.size(); ++i) {
    const auto& s = options.stages[i];
    stream << (i ? ", " : "") << s.channels << "x" << s.blocks << "/s" << s.stride << ":" << s.attention;
  }
  stream << "], head=" << options.head << ", dropout=" << options.dropout << ")";
}

}  // namespace focus::models
