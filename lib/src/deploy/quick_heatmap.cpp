#include "focus/deploy/quick_heatmap.h"

#include <cmath>

#include "focus/data/text_encoding.h"
#include "focus/explain/heatmap_image.h"
#include "focus/util/base64.h"

namespace focus::deploy {

namespace {

int64_t square_side(int64_t n) {
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  return side * side == n ? side : 0;
}

/// The spatial grid [h, w] of a map for example 0, or undefined when it has none.
bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

torch::Tensor spatial_grid(const std::string& name, const torch::Tensor& map) {
  // CBAM spatial and attention-pooling maps: [B, 1, h, w]
  if (map.dim() == 4 && map.size(1) == 1 &&
      (ends_with(name, ".spatial") || ends_with(name, "attention_pool") || name == "image.pool"))
    return map[0][0];
  if (map.dim() == 4 && name.rfind("cross.", 0) == 0) {  // [Q, H, L, R]: question tokens -> regions
    const int64_t side = square_side(map.size(3));
    if (side) return map[0].mean(0).mean(0).view({side, side});
  }
  if (map.dim() == 4 && map.size(2) == map.size(3)) {  // ViT self-attention [B, H, 1 + P, 1 + P]
    const int64_t side = square_side(map.size(3) - 1);
    if (side && name.rfind("encoder.", 0) == 0) return map[0].mean(0)[0].slice(0, 1).view({side, side});
  }
  return {};
}

util::Json image_heatmap(const ScriptModel& model, const RawExample& example, const NamedMaps& maps,
                         const std::string& format) {
  auto [name, found] = spatial_attention(maps);
  if (found.defined()) {
    const auto grid = explain::normalize_map(found.to(torch::kCPU).to(torch::kFloat));
    if (format == "weights") {
      const auto flat = grid.contiguous();
      return {{"map", name},
              {"height", grid.size(0)},
              {"width", grid.size(1)},
              {"weights", std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel())}};
    }
    const auto& m = model.metadata();
    const auto pixels = image_pixels(image_tensor(example.image, example.name, m), m);
    const auto png = explain::overlay_png(pixels, explain::resize_map(grid, m.height, m.width));
    return {{"map", name}, {"height", m.height}, {"width", m.width}, {"png_base64", util::base64_encode(png)}};
  }
  return {{"error", "the model exposes no spatial attention map"}};
}

util::Json text_heatmap(const ScriptModel& model, const RawExample& example, const NamedMaps& maps) {
  const auto& m = model.metadata();
  const auto encoded = data::encode_text(model.tokenizer(), example.text, m.text);
  std::vector<float> weights;
  std::string used;
  auto find = [&](const std::string& name) -> const torch::Tensor* {
    for (const auto& [n, t] : maps)
      if (n == name) return &t;
    return nullptr;
  };
  if (m.text.layout == data::TextLayout::sentences) {
    if (const auto* word = find("word")) {  // [1, S, W]
      used = "word";
      const auto w = word->to(torch::kCPU).to(torch::kFloat)[0];
      for (size_t s = 0; s < encoded.sentence_lengths.size(); ++s)
        for (int64_t k = 0; k < encoded.sentence_lengths[s]; ++k)
          weights.push_back(w[static_cast<int64_t>(s)][k].item<float>());
    }
  } else {
    torch::Tensor row;
    if (const auto* pool = find("head.pool")) {
      used = "head.pool";
      row = (*pool)[0];
    } else {
      for (auto it = maps.rbegin(); it != maps.rend() && !row.defined(); ++it)
        if (it->second.dim() == 4 && it->second.size(2) == it->second.size(3) &&
            (it->first.rfind("encoder.", 0) == 0 || it->first.rfind("text.", 0) == 0)) {
          used = it->first;
          row = it->second[0].mean(0)[0];  // the [CLS] row, mean over heads
        }
    }
    if (row.defined()) {
      row = row.to(torch::kCPU).to(torch::kFloat);
      for (size_t k = 0; k < encoded.tokens.size() && static_cast<int64_t>(k) < row.size(0); ++k)
        weights.push_back(row[static_cast<int64_t>(k)].item<float>());
    }
  }
  if (used.empty()) return {{"error", "the model exposes no attention over its tokens"}};
  util::Json tokens = util::Json::array();
  for (size_t k = 0; k < encoded.tokens.size() && k < weights.size(); ++k) {
    const auto& t = encoded.tokens[k];
    if (t.id == data::SpecialTokens::cls) continue;
    tokens.push_back({{"text", example.text.substr(static_cast<size_t>(t.begin), static_cast<size_t>(t.end - t.begin))},
                      {"begin", t.begin},
                      {"end", t.end},
                      {"weight", weights[k]}});
  }
  return {{"map", used}, {"tokens", tokens}};
}

}  // namespace

std::pair<std::string, torch::Tensor> spatial_attention(const NamedMaps& maps) {
  for (auto it = maps.rbegin(); it != maps.rend(); ++it) {
    auto grid = spatial_grid(it->first, it->second);
    if (grid.defined()) return {it->first, grid};
  }
  return {"", torch::Tensor()};
}

util::Json example_heatmap(const ScriptModel& model, const RawExample& example, const NamedMaps& maps,
                           const std::string& format) {
  const auto kind = model.metadata().input;
  if (kind == models::InputKind::images || kind == models::InputKind::image_text)
    return image_heatmap(model, example, maps, format);
  return text_heatmap(model, example, maps);
}

}  // namespace focus::deploy
