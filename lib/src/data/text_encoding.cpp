#include "focus/data/text_encoding.h"

#include "focus/util/error.h"

namespace focus::data {

namespace {

bool ends_sentence(std::string_view text, const Token& token) {
  if (token.end <= token.begin) return false;
  const char last = text[static_cast<size_t>(token.end - 1)];
  return last == '.' || last == '!' || last == '?';
}

/// Sentence punctuation ends a sentence only before whitespace or the end of
/// the text, so "www.a.com", "3.5" and "Wait..." do not split.
bool closes_sentence(std::string_view text, const std::vector<Token>& tokens, size_t i) {
  if (!ends_sentence(text, tokens[i])) return false;
  if (i + 1 == tokens.size()) return true;
  const auto gap = text.substr(static_cast<size_t>(tokens[i].end),
                               static_cast<size_t>(tokens[i + 1].begin - tokens[i].end));
  return gap.find_first_of(" \t\r\n\f\v") != std::string_view::npos;
}

bool blank_line_between(std::string_view text, const Token& a, const Token& b) {
  const auto gap = text.substr(static_cast<size_t>(a.end), static_cast<size_t>(b.begin - a.end));
  const auto first = gap.find('\n');
  return first != std::string_view::npos && gap.find('\n', first + 1) != std::string_view::npos;
}

EncodedText encode_flat(const std::vector<Token>& tokens, const TextEncodingOptions& options) {
  if (options.max_length < 2) throw Error("max_length must be at least 2 ([CLS] and one token)");
  if (options.tail_length < 0 || options.tail_length >= options.max_length)
    throw Error("tail_length must be in [0, max_length), found " + std::to_string(options.tail_length));
  EncodedText out;
  out.original_tokens = static_cast<int64_t>(tokens.size());
  const auto room = static_cast<size_t>(options.max_length - 1);
  const size_t keep = std::min(tokens.size(), room);
  // A text that fits is kept whole; a longer one keeps head + tail tokens.
  const size_t tail = tokens.size() > room ? static_cast<size_t>(options.tail_length) : 0;
  const auto head = static_cast<std::ptrdiff_t>(keep - tail);
  out.tokens.reserve(keep + 1);
  out.tokens.push_back({SpecialTokens::cls, 0, 0});
  out.tokens.insert(out.tokens.end(), tokens.begin(), tokens.begin() + head);
  out.tokens.insert(out.tokens.end(), tokens.end() - static_cast<std::ptrdiff_t>(tail), tokens.end());
  return out;
}

EncodedText encode_sentences(std::string_view text, const std::vector<Token>& tokens,
                             const TextEncodingOptions& options) {
  if (options.max_sentences < 1 || options.max_sentence_length < 1)
    throw Error("max_sentences and max_sentence_length must be at least 1");
  EncodedText out;
  out.original_tokens = static_cast<int64_t>(tokens.size());
  int64_t current = 0;  // tokens kept in the open sentence
  bool open = false;
  auto close = [&] {
    if (open && current > 0) out.sentence_lengths.push_back(current);
    current = 0;
    open = false;
  };
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0 && blank_line_between(text, tokens[i - 1], tokens[i])) close();
    if (!open) {
      if (static_cast<int64_t>(out.sentence_lengths.size()) >= options.max_sentences) break;
      open = true;
    }
    if (current < options.max_sentence_length) {
      out.tokens.push_back(tokens[i]);
      ++current;
    }
    if (closes_sentence(text, tokens, i)) close();
  }
  close();
  return out;
}

}  // namespace

EncodedText encode_text(const Tokenizer& tokenizer, std::string_view text, const TextEncodingOptions& options) {
  const auto tokens = tokenizer.tokenize(text);
  return options.layout == TextLayout::flat ? encode_flat(tokens, options) : encode_sentences(text, tokens, options);
}

}  // namespace focus::data
