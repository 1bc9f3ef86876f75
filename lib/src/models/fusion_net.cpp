#include "focus/models/fusion_net.h"

#include <cmath>

#include "focus/data/multimodal_batch_source.h"
#include "focus/nn/batch_norm.h"
#include "focus/nn/batched_matmul.h"
#include "focus/nn/conv2d.h"
#include "focus/nn/linear.h"
#include "focus/nn/small_ops.h"
#include "focus/util/error.h"

namespace focus::models {

namespace {

/// x and y of every grid cell, in [-1, 1]: [1, 2, h, w].
torch::Tensor coordinate_grid(int64_t h, int64_t w, const torch::TensorOptions& options) {
  auto ys = h > 1 ? torch::linspace(-1, 1, h, options) : torch::zeros({1}, options);
  auto xs = w > 1 ? torch::linspace(-1, 1, w, options) : torch::zeros({1}, options);
  return torch::stack({xs.view({1, w}).expand({h, w}), ys.view({h, 1}).expand({h, w})}).unsqueeze(0);
}

}  // namespace

torch::Tensor region_cells(int64_t h, int64_t w, const torch::TensorOptions& options) {
  auto rows = torch::arange(h, options).view({h, 1}).expand({h, w});
  auto cols = torch::arange(w, options).view({1, w}).expand({h, w});
  return torch::stack({cols.reshape({h * w}), rows.reshape({h * w})}, 1);
}

torch::Tensor focus_features(const torch::Tensor& weights, const torch::Tensor& cells) {
  TORCH_CHECK(weights.dim() == 4 && cells.dim() == 2 && cells.size(1) == 2 && weights.size(3) == cells.size(0),
              "focus_features: expected weights [Q, H, L, R] and cells [R, 2], got ", weights.sizes(), " and ",
              cells.sizes());
  auto mean = weights.mean(1);                                   // [Q, L, R]
  auto focus = torch::matmul(mean, cells);                       // [Q, L, 2]
  auto offset = cells.view({1, 1, -1, 2}) - focus.unsqueeze(2);  // [Q, L, R, 2]
  // The epsilons keep the gradient finite where a region is the focus itself, and all-zero attention at zero.
  auto distance = (offset.square().sum(-1) + 1e-6).sqrt();
  auto share = mean / mean.amax(-1, true).clamp_min(1e-12);
  return torch::stack({distance, share}, -1);
}

torch::Tensor fourier_positions(const torch::Tensor& coords) {
  TORCH_CHECK(coords.dim() == 4 && coords.size(0) == 1 && coords.size(1) == 2, "fourier_positions: expected [1, 2, h, w], got ",
              coords.sizes());
  auto xy = coords.flatten(2).transpose(1, 2)[0];  // [h * w, 2]
  std::vector<torch::Tensor> columns;
  for (int64_t k = 1; k <= kRegionFrequencies; ++k) {
    auto angle = xy * (M_PI * static_cast<double>(k) / 2.0);
    columns.push_back(torch::sin(angle));
    columns.push_back(torch::cos(angle));
  }
  return torch::cat(columns, 1);
}

FusionNetOptions parse_fusion_net_options(const util::Json& json, const std::string& context) {
  FusionNetOptions o;
  util::ObjectReader r(json, context);
  std::string arch;
  r.read("arch", arch);
  if (const auto* image = r.find("image")) {
    util::ObjectReader ir(*image, r.where("image"));
    ir.read("stem_channels", o.stem_channels).read("stem_stride", o.stem_stride).read("reduction", o.reduction);
    if (const auto* stages = ir.find("stages")) o.stages = parse_stages(*stages, ir.where("stages"));
    ir.finish();
  }
  if (const auto* text = r.find("text")) {
    util::ObjectReader tr(*text, r.where("text"));
    read_text_encoder_options(tr, o.text);
    tr.finish();
  }
  r.read_choice("fusion", o.fusion, {"concat", "late", "film", "cross"});
  r.read("dim", o.dim).read("heads", o.heads).read("relational_layers", o.relational_layers);
  r.read_choice("region_positions", o.region_positions, {"coords", "fourier"});
  r.read("conditioning_blocks", o.conditioning_blocks);
  r.read("cross_focus_bias", o.cross_focus_bias);
  r.read("cross_layers", o.cross_layers).read("film_blocks", o.film_blocks).read("hidden", o.hidden);
  r.read("dropout", o.dropout);
  r.finish();
  check(o.text, r.where("text"));
  if (o.stem_channels < 1 || (o.stem_stride != 1 && o.stem_stride != 2) || o.reduction < 1)
    throw Error(r.where("image") + ": need stem_channels >= 1, stem_stride 1 or 2 and reduction >= 1");
  if (o.dim < 1 || o.heads < 1 || o.dim % o.heads != 0)
    throw Error(context + ": dim (" + std::to_string(o.dim) + ") must be a positive multiple of heads (" +
                std::to_string(o.heads) + ")");
  if (o.relational_layers < 0 || o.cross_layers < 1 || o.film_blocks < 1 || o.hidden < 1 || o.conditioning_blocks < 0)
    throw Error(context + ": need relational_layers >= 0, cross_layers >= 1, film_blocks >= 1, hidden >= 1 and "
                "conditioning_blocks >= 0");
  if (o.dropout < 0 || o.dropout >= 1) throw Error(r.where("dropout") + ": must be in [0, 1)");
  if (o.cross_focus_bias && (o.fusion != "cross" || o.cross_layers < 2))
    throw Error(r.where("cross_focus_bias") + ": needs the cross fusion with cross_layers >= 2 (it biases every cross "
                "layer after the first)");
  if (o.fusion == "film" && o.region_positions != "coords")
    throw Error(r.where("region_positions") + ": the film fusion reads coordinates in each block and takes only \"coords\"");
  return o;
}

util::Json to_json(const FusionNetOptions& o) {
  return {{"arch", "fusion"},
          {"image",
           {{"stem_channels", o.stem_channels},
            {"stem_stride", o.stem_stride},
            {"stages", to_json(o.stages)},
            {"reduction", o.reduction}}},
          {"text", to_json(o.text)},
          {"fusion", o.fusion},
          {"dim", o.dim},
          {"region_positions", o.region_positions},
          {"heads", o.heads},
          {"relational_layers", o.relational_layers},
          {"cross_layers", o.cross_layers},
          {"cross_focus_bias", o.cross_focus_bias},
          {"conditioning_blocks", o.conditioning_blocks},
          {"film_blocks", o.film_blocks},
          {"hidden", o.hidden},
          {"dropout", o.dropout}};
}

// ---------------------------------------------------------------- FilmBlock

FilmBlockImpl::FilmBlockImpl(int64_t channels_, int64_t condition_dim_)
    : channels(channels_), condition_dim(condition_dim_) {
  reset();
}

void FilmBlockImpl::reset() {
  using torch::nn::Conv2dOptions;
  conv1 = register_module("conv1", torch::nn::Conv2d(Conv2dOptions(channels + 2, channels, 1)));
  conv2 = register_module("conv2", torch::nn::Conv2d(Conv2dOptions(channels, channels, 3).padding(1).bias(false)));
  norm = register_module("norm", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).affine(false)));
  film = register_module("film", nn::Film(nn::FilmOptions(channels, condition_dim)));
  torch::nn::init::kaiming_normal_(conv1->weight, 0.0, torch::kFanOut, torch::kReLU);
  torch::nn::init::kaiming_normal_(conv2->weight, 0.0, torch::kFanOut, torch::kReLU);
}

torch::Tensor FilmBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& coords, const torch::Tensor& condition) {
  auto y = torch::relu(conv1(torch::cat({x, coords.expand({x.size(0), 2, x.size(2), x.size(3)})}, 1)));
  return y + torch::relu(film(norm(nn::conv2d(conv2, y)), condition));
}

// ---------------------------------------------------------------- CrossLayer

CrossLayerImpl::CrossLayerImpl(int64_t dim_, int64_t heads_, double dropout_, bool focus_bias_)
    : dim(dim_), heads(heads_), dropout_p(dropout_), focus_bias(focus_bias_) {
  reset();
}

void CrossLayerImpl::reset() {
  auto ln = [this] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})); };
  norm_self = register_module("norm_self", ln());
  norm_query = register_module("norm_query", ln());
  norm_regions = register_module("norm_regions", ln());
  norm_ff = register_module("norm_ff", ln());
  self_attention = register_module("self_attention", nn::MultiHeadAttention(nn::MultiHeadAttentionOptions(dim, heads)));
  cross_attention = register_module("cross_attention", nn::MultiHeadAttention(nn::MultiHeadAttentionOptions(dim, heads)));
  ff1 = register_module("ff1", torch::nn::Linear(dim, 4 * dim));
  ff2 = register_module("ff2", torch::nn::Linear(4 * dim, dim));
  dropout = register_module("dropout", torch::nn::Dropout(dropout_p));
  if (focus_bias) {
    focus_coefficients = register_module("focus_coefficients", torch::nn::Linear(dim, heads * kFocusFeatures));
    torch::nn::init::zeros_(focus_coefficients->weight);
    torch::nn::init::zeros_(focus_coefficients->bias);
  }
}

nn::AttentionOutput CrossLayerImpl::forward(const torch::Tensor& tokens, const torch::Tensor& padding,
                                            const torch::Tensor& regions, const torch::Tensor& image_index,
                                            const torch::Tensor& features) {
  TORCH_CHECK(focus_bias == features.defined(), "CrossLayer: focus features are ",
              features.defined() ? "given to a layer without" : "missing for a layer with", " a focus bias");
  auto h = nn::layer_norm(norm_self, tokens);
  nn::AttentionMasks masks;
  masks.key_padding = padding;
  auto x = tokens + dropout(self_attention(h, h, h, masks).output);
  auto r = nn::layer_norm(norm_regions, regions);
  auto query = nn::layer_norm(norm_query, x);
  nn::AttentionMasks bias;
  if (focus_bias) {  // sum_k c[Q, L, H, k] f[Q, L, R, k] -> [Q, H, L, R]
    // With k = 2 this is two broadcast multiply-adds over [Q, L, H, R]. As a
    // batched product it was Q * L products of [H, 2] x [2, R], each one
    // dominated by its per-call cost (docs/BENCHMARKS.md, 2026-12-03).
    auto c = nn::linear(focus_coefficients, query).view({x.size(0), x.size(1), heads, kFocusFeatures});
    torch::Tensor sum;
    for (int64_t k = 0; k < kFocusFeatures; ++k) {
      const auto ck = c.select(-1, k).unsqueeze(-1), fk = features.select(-1, k).unsqueeze(2);  // [Q,L,H,1], [Q,L,1,R]
      sum = sum.defined() ? sum.addcmul(ck, fk) : ck * fk;
    }
    bias.bias = sum.transpose(1, 2);
  }
  auto cross = cross_attention->forward_grouped(query, r, r, image_index, bias);
  x = x + dropout(cross.output);
  x = x + dropout(nn::linear(ff2, dropout(torch::gelu(nn::linear(ff1, nn::layer_norm(norm_ff, x))))));
  return {x, cross.weights};
}

// ---------------------------------------------------------------- FusionNet

FusionNetImpl::FusionNetImpl(FusionNetOptions options_) : options(std::move(options_)) {
  TORCH_CHECK(!options.stages.empty(), "FusionNet: the image encoder needs at least one stage");
  using torch::nn::Conv2dOptions;
  const auto& o = options;
  stem = register_module(
      "stem", torch::nn::Conv2d(Conv2dOptions(o.in_channels, o.stem_channels, 3).stride(o.stem_stride).padding(1).bias(false)));
  stem_bn = register_module("stem_bn", torch::nn::BatchNorm2d(o.stem_channels));
  torch::nn::init::kaiming_normal_(stem->weight, 0.0, torch::kFanOut, torch::kReLU);
  int64_t channels = o.stem_channels;
  for (size_t s = 0; s < o.stages.size(); ++s) {
    const auto& st = o.stages[s];
    for (int64_t b = 0; b < st.blocks; ++b) {
      blocks.push_back(register_module("image_stage" + std::to_string(s + 1) + "_block" + std::to_string(b),
                                       ResidualBlock(channels, st.channels, b == 0 ? st.stride : 1, st.attention,
                                                     o.reduction, false)));
      block_names.push_back("image.stage" + std::to_string(s + 1) + ".block" + std::to_string(b));
      channels = st.channels;
    }
  }
  region_proj = register_module("region_proj", torch::nn::Conv2d(Conv2dOptions(channels + 2, o.dim, 1)));
  if (o.region_positions == "fourier")
    position_proj = register_module("position_proj", torch::nn::Linear(4 * kRegionFrequencies, o.dim));
  text = register_module("text", TextEncoder(o.text));
  if (o.text.dim != o.dim) text_proj = register_module("text_proj", torch::nn::Linear(o.text.dim, o.dim));
  dropout = register_module("dropout", torch::nn::Dropout(o.dropout));

  int64_t mlp_in = o.dim;
  if (o.fusion == "concat" || o.fusion == "late")
    image_pool = register_module("image_pool", nn::AttentionPool(nn::AttentionPoolOptions(o.dim)));
  if (o.fusion == "concat") mlp_in = 2 * o.dim;
  if (o.fusion == "late") {
    image_head = register_module("image_head", torch::nn::Linear(o.dim, o.num_classes));
    text_head = register_module("text_head", torch::nn::Linear(o.dim, o.num_classes));
  }
  if (o.fusion == "film") {
    for (int64_t i = 0; i < o.film_blocks; ++i)
      film_blocks.push_back(register_module("film_block" + std::to_string(i), FilmBlock(o.dim, o.dim)));
    film_out = register_module("film_out", torch::nn::Conv2d(Conv2dOptions(o.dim, o.hidden, 1)));
    mlp_in = o.hidden;
  }
  if (o.fusion == "cross") {
    if (o.relational_layers > 0)
      relational = register_module(
          "relational", nn::TransformerEncoder(nn::TransformerEncoderOptions(
                            nn::TransformerEncoderLayerOptions(o.dim, o.heads).dropout(o.dropout), o.relational_layers)));
    for (int64_t i = 0; i < o.conditioning_blocks; ++i)
      film_blocks.push_back(register_module("condition_block" + std::to_string(i), FilmBlock(o.dim, o.dim)));
    for (int64_t i = 0; i < o.cross_layers; ++i)
      cross_layers.push_back(register_module("cross_layer" + std::to_string(i),
                                             CrossLayer(o.dim, o.heads, o.dropout, o.cross_focus_bias && i > 0)));
    cross_norm = register_module("cross_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim})));
  }
  if (o.fusion != "late") {
    mlp1 = register_module("mlp1", torch::nn::Linear(mlp_in, o.hidden));
    mlp2 = register_module("mlp2", torch::nn::Linear(o.hidden, o.num_classes));
  }
}

torch::Tensor FusionNetImpl::run(const data::Batch& batch, std::vector<NamedAttention>* maps,
                                 std::vector<NamedAttention>* activations) {
  auto images_it = batch.extra.find(data::kBatchImages);
  auto index_it = batch.extra.find(data::kBatchImageIndex);
  TORCH_CHECK(images_it != batch.extra.end() && index_it != batch.extra.end(),
              "FusionNet: the batch has no images (an image + text batch carries extra[\"images\"] and "
              "extra[\"image_index\"])");
  const auto& images = images_it->second;
  const auto& index = index_it->second;
  TORCH_CHECK(images.dim() == 4 && images.size(1) == options.in_channels, "FusionNet: expected images [I, ",
              options.in_channels, ", H, W], got ", images.sizes());
  TORCH_CHECK(batch.inputs.dim() == 2 && index.dim() == 1 && index.size(0) == batch.inputs.size(0),
              "FusionNet: expected token ids [Q, L] and image_index [Q], got ", batch.inputs.sizes(), " and ",
              index.sizes());

  // Every image once.
  auto x = nn::batch_norm(*stem_bn, nn::conv2d(stem, images), /*relu=*/true);
  for (size_t i = 0; i < blocks.size(); ++i) x = blocks[i]->forward(x, maps, block_names[i]);
  const int64_t n_images = x.size(0), h = x.size(2), w = x.size(3);
  auto coords = coordinate_grid(h, w, x.options());
  if (activations) activations->push_back({"image.grid", x});
  auto grid = region_proj(torch::cat({x, coords.expand({n_images, 2, h, w})}, 1));  // [I, dim, h, w]
  auto regions = grid.flatten(2).transpose(1, 2);                                    // [I, R, dim]
  if (position_proj) regions = regions + nn::linear(position_proj, fourier_positions(coords)).unsqueeze(0);

  // Every question.
  auto encoded = text(batch.inputs, batch.mask, maps != nullptr);
  if (maps)
    for (size_t i = 0; i < encoded.weights.size(); ++i) maps->push_back({"text.layer" + std::to_string(i), encoded.weights[i]});
  auto tokens = text_proj ? nn::linear(text_proj, encoded.output) : encoded.output;  // [Q, L, dim]
  auto cls = tokens.select(1, 0);

  const auto& f = options.fusion;
  torch::Tensor features;
  if (f == "concat" || f == "late") {
    auto pooled = image_pool(regions);
    if (maps) maps->push_back({"image.pool", pooled.weights.view({n_images, 1, h, w})});
    auto image_vec = pooled.pooled.index_select(0, index);
    if (f == "late") return 0.5 * (image_head(dropout(image_vec)) + text_head(dropout(cls)));
    features = torch::cat({image_vec, cls}, 1);
  } else if (f == "film") {
    auto y = torch::relu(grid).index_select(0, index);  // [Q, dim, h, w]
    for (auto& block : film_blocks) y = block->forward(y, coords, cls);
    features = torch::relu(film_out(y)).amax({2, 3});
  } else {
    if (relational) {
      auto r = relational->forward(regions, nn::AttentionMasks{}, maps != nullptr);
      regions = r.output;
      if (maps)
        for (size_t i = 0; i < r.weights.size(); ++i) maps->push_back({"relational.layer" + std::to_string(i), r.weights[i]});
    }
    const auto padding = batch.mask.logical_not();
    auto region_index = index;
    if (!film_blocks.empty()) {  // each question's own copy of its image's regions, conditioned on it
      auto y = regions.transpose(1, 2).reshape({n_images, options.dim, h, w}).index_select(0, index);
      for (auto& block : film_blocks) y = block->forward(y, coords, cls);
      regions = y.flatten(2).transpose(1, 2);  // [Q, R, dim]
      region_index = torch::arange(index.size(0), index.options());
    }
    const auto cells = options.cross_focus_bias ? region_cells(h, w, x.options()) : torch::Tensor();
    torch::Tensor focus;  // each token's focus in the layer before
    for (size_t i = 0; i < cross_layers.size(); ++i) {
      auto out = cross_layers[i]->forward(tokens, padding, regions, region_index, focus);
      tokens = out.output;
      if (cells.defined() && i + 1 < cross_layers.size()) focus = focus_features(out.weights, cells);
      if (maps) maps->push_back({"cross.layer" + std::to_string(i), out.weights});
    }
    features = nn::layer_norm(cross_norm, tokens.select(1, 0));
  }
  return mlp2(dropout(torch::relu(mlp1(dropout(features)))));
}

torch::Tensor FusionNetImpl::forward(const data::Batch& batch) { return run(batch, nullptr, nullptr); }

ClassifierOutput FusionNetImpl::forward_with_attention(const data::Batch& batch) {
  ClassifierOutput out;
  out.logits = run(batch, &out.attention, &out.activations);
  return out;
}

void FusionNetImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::models::FusionNet(fusion=" << options.fusion << ", dim=" << options.dim
         << ", text_dim=" << options.text.dim << ", text_layers=" << options.text.layers << ", stages=[";
  for (size_t i = 0; i < options.stages.size(); ++i) {
    const auto& s = options.stages[i];
    stream << (i ? ", " : "") << s.channels << "x" << s.blocks << "/s" << s.stride << ":" << s.attention;
  }
  stream << "], num_classes=" << options.num_classes << ")";
}

}  // namespace focus::models
