#include "focus/explain/text_explainer.h"

#include <algorithm>
#include <cmath>

#include "focus/data/text_batch_source.h"
#include "focus/eval/report.h"
#include "focus/util/error.h"
#include "focus/util/strings.h"

namespace focus::explain {

namespace {

using util::join;

std::vector<float> to_vector(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).to(torch::kFloat).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

/// The [CLS] row of a [L, L] matrix, without [CLS] itself: one weight per token.
std::vector<float> cls_row(const torch::Tensor& matrix) {
  return to_vector(matrix.select(0, 0).narrow(0, 1, matrix.size(1) - 1));
}

/// Leave-one-token-out occlusion (forward calls only, so any text classifier):
/// a token's weight is the target probability of the whole text minus that of
/// the text with this token alone masked out, as padding is. Batches of copies.
std::vector<float> token_occlusion(models::Classifier& model, const data::Batch& batch,
                                   const std::vector<int64_t>& slot_list, int64_t target, float whole) {
  constexpr int64_t kCopies = 64;
  const auto units = static_cast<int64_t>(slot_list.size());
  const auto slots = torch::tensor(slot_list, torch::kLong).to(batch.mask.device());
  std::vector<float> weights;
  weights.reserve(slot_list.size());
  for (int64_t start = 0; start < units; start += kCopies) {
    const int64_t n = std::min(kCopies, units - start);
    auto keep = torch::ones({n, units}, torch::kBool);
    keep.index_put_({torch::arange(n), torch::arange(start, start + n)}, false);  // copy k drops token start + k
    const auto p = masked_text_probability(model, batch, slots, keep, target).to(torch::kCPU);
    for (int64_t k = 0; k < n; ++k) weights.push_back(whole - p[k].item<float>());
  }
  return weights;
}

}  // namespace

data::Batch text_batch(const data::EncodedText& encoded, data::TextLayout layout) {
  data::Batch b;
  if (layout == data::TextLayout::flat) {
    std::tie(b.inputs, b.mask) = data::pad_flat_tokens({encoded}, {0});
    return b;
  }
  const int64_t s = std::max<int64_t>(1, static_cast<int64_t>(encoded.sentence_lengths.size()));
  int64_t w = 1;
  for (int64_t len : encoded.sentence_lengths) w = std::max(w, len);
  b.inputs = torch::zeros({1, s, w}, torch::kLong);
  b.mask = torch::zeros({1, s, w}, torch::kBool);
  size_t k = 0;
  for (size_t i = 0; i < encoded.sentence_lengths.size(); ++i)
    for (int64_t j = 0; j < encoded.sentence_lengths[i]; ++j, ++k) {
      b.inputs[0][static_cast<int64_t>(i)][j] = encoded.tokens[k].id;
      b.mask[0][static_cast<int64_t>(i)][j] = true;
    }
  return b;
}

std::vector<int64_t> token_slots(const data::EncodedText& encoded, data::TextLayout layout) {
  std::vector<int64_t> slots;
  if (layout == data::TextLayout::flat) {
    for (size_t k = 1; k < encoded.tokens.size(); ++k) slots.push_back(static_cast<int64_t>(k));
    return slots;
  }
  int64_t w = 1;
  for (int64_t len : encoded.sentence_lengths) w = std::max(w, len);
  for (size_t i = 0; i < encoded.sentence_lengths.size(); ++i)
    for (int64_t j = 0; j < encoded.sentence_lengths[i]; ++j) slots.push_back(static_cast<int64_t>(i) * w + j);
  return slots;
}

torch::Tensor masked_text_probability(models::Classifier& model, const data::Batch& batch, const torch::Tensor& slots,
                                      const torch::Tensor& keep, int64_t target) {
  torch::NoGradGuard no_grad;
  const int64_t n = keep.size(0);
  auto shape = batch.mask.sizes().vec(), input_shape = batch.inputs.sizes().vec();
  shape[0] = input_shape[0] = n;
  auto mask = batch.mask.reshape({1, -1}).repeat({n, 1});
  mask.index_copy_(1, slots, keep.to(mask.device()) & mask.index_select(1, slots));
  data::Batch copies;
  copies.mask = mask.reshape(shape);
  copies.inputs = batch.inputs.expand(input_shape);
  return torch::softmax(model.forward(copies), 1).select(1, target);
}

std::vector<std::string> text_methods(const std::string& arch) {
  if (arch == "text_transformer") return {"attention", "rollout", "grad_rollout", "occlusion"};
  if (arch == "han") return {"attention", "occlusion"};
  return {"occlusion"};  // any other text classifier (the bag of embeddings)
}

TextExplanation explain_text(models::Classifier& model, const std::string& arch, const data::Tokenizer& tokenizer,
                             const std::string& text, const data::TextEncodingOptions& encoding,
                             const std::vector<std::string>& methods, int64_t target, const torch::Device& device,
                             const RolloutOptions& rollout) {
  const auto applicable = text_methods(arch);
  for (const auto& m : methods)
    if (std::find(applicable.begin(), applicable.end(), m) == applicable.end())
      throw Error("method '" + m + "' does not apply to a " + arch + " model (methods that do: " + join(applicable) +
                  ")");
  const auto encoded = data::encode_text(tokenizer, text, encoding);
  const bool flat = encoding.layout == data::TextLayout::flat;
  TextExplanation e;
  e.text = text;
  e.tokens.assign(encoded.tokens.begin() + (flat ? 1 : 0), encoded.tokens.end());
  auto batch = text_batch(encoded, encoding.layout).to(device);
  const bool wants_gradients = std::find(methods.begin(), methods.end(), "grad_rollout") != methods.end();
  torch::AutoGradMode grad_mode(wants_gradients);
  auto out = model.forward_with_attention(batch);
  auto probs = torch::softmax(out.logits.detach(), 1)[0];
  e.probabilities = to_vector(probs);
  e.predicted = probs.argmax().item<int64_t>();
  e.target = target >= 0 ? target : e.predicted;
  if (e.target >= static_cast<int64_t>(e.probabilities.size()))
    throw Error("class " + std::to_string(e.target) + " is outside the model's " +
                std::to_string(e.probabilities.size()) + " classes");
  if (e.tokens.empty()) return e;  // nothing to weigh: an explanation without tokens

  std::vector<torch::Tensor> layers;
  for (const auto& m : out.attention)
    if (m.name.rfind("encoder.layer", 0) == 0) layers.push_back(m.weights);
  for (const auto& method : methods) {
    if (method == "occlusion") {
      e.maps.push_back({method, "leave one token out",
                        token_occlusion(model, batch, token_slots(encoded, encoding.layout), e.target,
                                        e.probabilities[static_cast<size_t>(e.target)])});
    } else if (arch == "han") {
      const models::NamedAttention *word = nullptr, *sentence = nullptr;
      for (const auto& m : out.attention) {
        if (m.name == "word") word = &m;
        if (m.name == "sentence") sentence = &m;
      }
      if (!word || !sentence) throw Error("the HAN returned no word/sentence attention");
      TextMap w{method, "word", {}}, s{method, "sentence", {}}, ws{method, "word x sentence", {}};
      for (size_t i = 0; i < encoded.sentence_lengths.size(); ++i)
        for (int64_t j = 0; j < encoded.sentence_lengths[i]; ++j) {
          const float wv = word->weights[0][static_cast<int64_t>(i)][j].item<float>();
          const float sv = sentence->weights[0][static_cast<int64_t>(i)].item<float>();
          w.weights.push_back(wv);
          s.weights.push_back(sv);
          ws.weights.push_back(wv * sv);
        }
      e.maps.push_back(ws);
      e.maps.push_back(w);
      e.maps.push_back(s);
    } else if (method == "attention") {
      for (size_t l = 0; l < layers.size(); ++l) {
        auto weights = layers[l][0].detach();  // [H, L, L]
        const std::string layer = "encoder.layer" + std::to_string(l);
        e.maps.push_back({method, layer + " mean of heads", cls_row(weights.mean(0))});
        for (int64_t h = 0; h < weights.size(0); ++h)
          e.maps.push_back({method, layer + " head " + std::to_string(h), cls_row(weights[h])});
      }
      for (const auto& m : out.attention)
        if (m.name == "head.pool") e.maps.push_back({method, "attention-pool head", to_vector(m.weights[0].narrow(0, 1, m.weights.size(1) - 1))});
    } else if (method == "rollout") {
      e.maps.push_back({method, "rollout", cls_row(attention_rollout(layers, rollout)[0])});
    } else {
      auto grads = torch::autograd::grad({out.logits[0][e.target]}, layers);
      e.maps.push_back({method, "gradient rollout", cls_row(gradient_rollout(layers, grads)[0])});
    }
  }
  return e;
}

util::Json to_json(const TextExplanation& e, const std::vector<std::string>& class_names) {
  auto name = [&](int64_t i) { return i < static_cast<int64_t>(class_names.size()) ? class_names[static_cast<size_t>(i)] : std::to_string(i); };
  util::Json tokens = util::Json::array();
  for (const auto& t : e.tokens)
    tokens.push_back({{"token", e.text.substr(static_cast<size_t>(t.begin), static_cast<size_t>(t.end - t.begin))},
                      {"begin", t.begin},
                      {"end", t.end}});
  util::Json maps = util::Json::array();
  for (const auto& m : e.maps) maps.push_back({{"method", m.method}, {"name", m.name}, {"weights", m.weights}});
  util::Json probs = util::Json::object();
  for (size_t i = 0; i < e.probabilities.size(); ++i) probs[name(static_cast<int64_t>(i))] = e.probabilities[i];
  return {{"text", e.text}, {"predicted", name(e.predicted)}, {"target", name(e.target)}, {"probabilities", probs},
          {"tokens", tokens}, {"maps", maps}};
}

std::string text_page_html(const std::vector<TextExplanation>& explanations, const std::vector<std::string>& class_names,
                           const std::string& title) {
  using eval::html_escape;
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
      "</title><style>body{font-family:sans-serif;margin:24px;max-width:60em}.text{white-space:pre-wrap;"
      "line-height:1.7;border:1px solid #ddd;padding:10px}.tok{border-radius:3px}section{margin-bottom:28px}"
      "</style></head><body>\n<h1>" + html_escape(title) + "</h1>\n"
      "<p>Tokens are shaded by the chosen map's weight: red towards the explained class; blue, for signed "
      "maps (occlusion), against it. Hover over a token for its weight.</p>\n";
  for (size_t k = 0; k < explanations.size(); ++k) {
    const auto& e = explanations[k];
    const auto name = [&](int64_t i) { return i < static_cast<int64_t>(class_names.size()) ? class_names[static_cast<size_t>(i)] : std::to_string(i); };
    char prob[32];
    std::snprintf(prob, sizeof prob, "%.1f%%", 100.0 * (e.probabilities.empty() ? 0.0 : e.probabilities[static_cast<size_t>(e.target)]));
    html += "<section id=\"ex" + std::to_string(k) + "\"><h2>Example " + std::to_string(k) + "</h2><p>predicted <b>" +
            html_escape(name(e.predicted)) + "</b>; explained: " + html_escape(name(e.target)) + " (" + prob + ")";
    if (e.tokens.empty()) html += "; the text has no tokens, so there is nothing to highlight";
    html += "</p>\n";
    if (!e.maps.empty()) {
      html += "<label>map <select class=\"map\" data-ex=\"" + std::to_string(k) + "\">";
      for (size_t m = 0; m < e.maps.size(); ++m)
        html += "<option value=\"" + std::to_string(m) + "\">" + html_escape(e.maps[m].method + ": " + e.maps[m].name) + "</option>";
      html += "</select></label>\n";
    }
    html += "<div class=\"text\" id=\"text" + std::to_string(k) + "\">";
    int64_t at = 0;
    for (size_t t = 0; t < e.tokens.size(); ++t) {
      const auto& tok = e.tokens[t];
      if (tok.begin < at) continue;  // overlapping spans cannot be drawn twice
      html += html_escape(std::string_view(e.text).substr(static_cast<size_t>(at), static_cast<size_t>(tok.begin - at)));
      html += "<span class=\"tok\" data-i=\"" + std::to_string(t) + "\">" +
              html_escape(std::string_view(e.text).substr(static_cast<size_t>(tok.begin), static_cast<size_t>(tok.end - tok.begin))) +
              "</span>";
      at = tok.end;
    }
    html += html_escape(std::string_view(e.text).substr(static_cast<size_t>(std::min<int64_t>(at, static_cast<int64_t>(e.text.size())))));
    html += "</div></section>\n";
  }
  util::Json weights = util::Json::array();
  for (const auto& e : explanations) {
    util::Json maps = util::Json::array();
    for (const auto& m : e.maps) maps.push_back(m.weights);
    weights.push_back(maps);
  }
  html += "<script>\nconst WEIGHTS = " + weights.dump() + ";\n"
          "function paint(ex, m) {\n"
          "  const w = WEIGHTS[ex][m] || [];\n"
          "  const top = Math.max(1e-12, ...w.map(Math.abs));\n"
          "  document.querySelectorAll('#text' + ex + ' .tok').forEach(s => {\n"
          "    const v = (w[+s.dataset.i] || 0) / top;  // signed maps (occlusion): against the class in blue\n"
          "    s.style.background = (v >= 0 ? 'rgba(220, 30, 30, ' : 'rgba(30, 90, 220, ') + Math.abs(v).toFixed(3) + ')';\n"
          "    s.title = (w[+s.dataset.i] || 0).toPrecision(3);\n"
          "  });\n"
          "}\n"
          "document.querySelectorAll('select.map').forEach(sel => {\n"
          "  const ex = +sel.dataset.ex;\n"
          "  const pick = [...sel.options].findIndex(o => o.text.startsWith('rollout'));\n"
          "  if (pick >= 0) sel.selectedIndex = pick;\n"
          "  sel.addEventListener('change', () => paint(ex, +sel.value));\n"
          "  paint(ex, +sel.value);\n"
          "});\n</script>\n</body></html>\n";
  return html;
}

std::string ansi_text(const TextExplanation& e, const TextMap& map) {
  float top = 1e-12f;
  for (float w : map.weights) top = std::max(top, std::abs(w));
  std::string out;
  int64_t at = 0;
  for (size_t t = 0; t < e.tokens.size() && t < map.weights.size(); ++t) {
    const auto& tok = e.tokens[t];
    if (tok.begin < at) continue;
    out += e.text.substr(static_cast<size_t>(at), static_cast<size_t>(tok.begin - at));
    // 256-colour background from white (231) through light reds to red (196); a negative
    // weight (occlusion: the token argues against the class) through light blues to blue (33).
    static const int red[] = {231, 224, 217, 210, 203, 196}, blue[] = {231, 189, 153, 117, 75, 33};
    const float w = map.weights[t];
    const int level = std::clamp(static_cast<int>(std::lround(5.0 * std::abs(w) / top)), 0, 5);
    out += "\x1b[48;5;" + std::to_string(w < 0 ? blue[level] : red[level]) + "m\x1b[30m" +
           e.text.substr(static_cast<size_t>(tok.begin), static_cast<size_t>(tok.end - tok.begin)) + "\x1b[0m";
    at = tok.end;
  }
  if (at < static_cast<int64_t>(e.text.size())) out += e.text.substr(static_cast<size_t>(at));
  return out;
}

}  // namespace focus::explain
