#pragma once
// Explanations of one text classified by a Focus model: a weight per token of
// the text, each token keeping its byte offsets into the original text.
//   text_transformer: attention (every layer and head, and each layer's mean
//                     of heads: the [CLS] row; plus the attention-pool head),
//                     rollout and grad_rollout ([CLS] row)
//   han:              attention: word weights, sentence weights, and their product
//   every text model: occlusion, leave one token out (forward calls only)
#include <string>
#include <vector>

#include "focus/data/text_encoding.h"
#include "focus/data/tokenizer.h"
#include "focus/explain/explainer.h"

namespace focus::explain {

struct TextMap {
  std::string method;          ///< attention, rollout, grad_rollout or occlusion
  std::string name;            ///< e.g. "encoder.layer1 head 0", "rollout", "han word"
  std::vector<float> weights;  ///< one per token of TextExplanation::tokens
};

struct TextExplanation {
  std::string text;                      ///< the original text
  std::vector<data::Token> tokens;       ///< the tokens the model read ([CLS] excluded), with byte offsets
  std::vector<TextMap> maps;
  std::vector<float> probabilities;      ///< per class
  int64_t predicted = 0, target = 0;
};

/// The batch of one encoded text: flat [1, L] or sentences [1, S, W], with its mask.
data::Batch text_batch(const data::EncodedText& encoded, data::TextLayout layout);
/// Where each token of TextExplanation::tokens sits in text_batch's flattened
/// mask ([CLS] excluded): the units deletion and insertion remove.
std::vector<int64_t> token_slots(const data::EncodedText& encoded, data::TextLayout layout);
/// The probability of class `target` for copies of the one-text `batch`: copy k keeps the
/// token `slots` (from token_slots, on the batch's device) where keep[k] is true and masks
/// the others out as padding is. keep: [n, slots] bool; the result: [n], on the batch's device.
/// Occlusion and the deletion/insertion curves both remove tokens this way.
torch::Tensor masked_text_probability(models::Classifier& model, const data::Batch& batch, const torch::Tensor& slots,
                                      const torch::Tensor& keep, int64_t target);

/// The text methods that apply to architecture `arch`.
std::vector<std::string> text_methods(const std::string& arch);

/// Explains `text` with `methods` for class `target` (-1 = the predicted one).
/// A text without tokens gives an explanation with no tokens, not an error.
/// Throws focus::Error naming the methods that apply for one that does not.
TextExplanation explain_text(models::Classifier& model, const std::string& arch, const data::Tokenizer& tokenizer,
                             const std::string& text, const data::TextEncodingOptions& encoding,
                             const std::vector<std::string>& methods, int64_t target, const torch::Device& device,
                             const RolloutOptions& rollout = {});

/// {"text", "predicted", "target", "probabilities", "tokens": [{"token", "begin", "end"}],
///  "maps": [{"method", "name", "weights"}]}
util::Json to_json(const TextExplanation& e, const std::vector<std::string>& class_names);

/// A self-contained HTML page: each text with its tokens highlighted over the
/// original text (by byte offsets) and a selector over the maps.
std::string text_page_html(const std::vector<TextExplanation>& explanations, const std::vector<std::string>& class_names,
                           const std::string& title);

/// The text with each token's background coloured by `map` (ANSI 256 colours), for a terminal.
std::string ansi_text(const TextExplanation& e, const TextMap& map);

}  // namespace focus::explain
