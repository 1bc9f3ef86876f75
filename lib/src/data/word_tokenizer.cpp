#include "focus/data/word_tokenizer.h"

#include <algorithm>
#include <system_error>
#include <utility>

#include "focus/data/utf8.h"
#include "focus/util/atomic_file.h"
#include "focus/util/error.h"
#include "focus/util/log.h"

namespace focus::data {
namespace {

struct Span {
  size_t begin = 0;
  size_t end = 0;
};

unsigned char byte_at(std::string_view s, size_t i) { return static_cast<unsigned char>(s[i]); }

bool is_ascii_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

bool is_ascii_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// ASCII letters and digits, and every byte of a multibyte UTF-8 character.
bool is_word_byte(unsigned char c) { return c >= 0x80 || is_ascii_alnum(c); }

bool is_inner_apostrophe(std::string_view text, size_t i) {
  return text[i] == '\'' && i > 0 && i + 1 < text.size() && is_word_byte(byte_at(text, i - 1)) &&
         is_word_byte(byte_at(text, i + 1));
}

size_t word_end(std::string_view text, size_t i) {
  while (i < text.size() && (is_word_byte(byte_at(text, i)) || is_inner_apostrophe(text, i))) ++i;
  return i;
}

/// Words and one-byte punctuation tokens, in order; whitespace is skipped.
std::vector<Span> split_words(std::string_view text) {
  std::vector<Span> spans;
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = byte_at(text, i);
    if (is_ascii_space(c)) {
      ++i;
      continue;
    }
    const size_t end = is_word_byte(c) ? word_end(text, i) : i + 1;
    spans.push_back({i, end});
    i = end;
  }
  return spans;
}

std::string normalize(std::string_view word, bool lowercase) {
  std::string out(word);
  if (lowercase)
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_valid_utf8(std::string_view s) { return !find_invalid_utf8(s).has_value(); }

std::unordered_map<std::string, int64_t> count_words(const std::vector<std::string>& texts, bool lowercase,
                                                     int64_t max_word_bytes) {
  std::unordered_map<std::string, int64_t> counts;
  for (const auto& text : texts)
    for (const Span& s : split_words(text))
      if (static_cast<int64_t>(s.end - s.begin) <= max_word_bytes)
        ++counts[normalize(std::string_view(text).substr(s.begin, s.end - s.begin), lowercase)];
  return counts;
}

/// Words seen at least `min_frequency` times, most frequent first, ties by bytes.
std::vector<std::string> frequent_words(std::unordered_map<std::string, int64_t> counts, int64_t min_frequency,
                                        size_t limit) {
  std::vector<std::pair<std::string, int64_t>> kept;
  for (auto& [word, count] : counts)
    if (count >= min_frequency && is_valid_utf8(word)) kept.emplace_back(word, count);
  std::sort(kept.begin(), kept.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  if (kept.size() > limit) kept.resize(limit);
  std::vector<std::string> words;
  words.reserve(kept.size());
  for (auto& entry : kept) words.push_back(std::move(entry.first));
  return words;
}

}  // namespace

WordTokenizer::WordTokenizer(std::vector<std::string> vocab, bool lowercase, int64_t max_word_bytes)
    : vocab_(std::move(vocab)), lowercase_(lowercase), max_word_bytes_(max_word_bytes) {
  const auto& specials = special_token_names();
  if (vocab_.size() < specials.size())
    throw Error("word vocabulary: expected at least the " + std::to_string(specials.size()) +
                " special tokens, found " + std::to_string(vocab_.size()) + " entries");
  for (size_t i = 0; i < specials.size(); ++i)
    if (vocab_[i] != specials[i])
      throw Error("word vocabulary: entry " + std::to_string(i) + " must be \"" + specials[i] + "\", found \"" +
                  vocab_[i] + "\"");
  if (max_word_bytes_ < 1)
    throw Error("word tokenizer: max_word_bytes must be >= 1, found " + std::to_string(max_word_bytes_));
  ids_.reserve(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) {
    const std::string& word = vocab_[i];
    if (word.empty() || !is_valid_utf8(word))
      throw Error("word vocabulary: entry " + std::to_string(i) + " is empty or not valid UTF-8");
    if (!ids_.emplace(word, static_cast<int64_t>(i)).second)
      throw Error("word vocabulary: entry " + std::to_string(i) + " \"" + word + "\" repeats entry " +
                  std::to_string(ids_.at(word)));
  }
}

std::unique_ptr<WordTokenizer> WordTokenizer::train(const TokenizerConfig& config,
                                                    const std::vector<std::string>& texts) {
  validate_tokenizer_config(config, "tokenizer");
  auto counts = count_words(texts, config.lowercase, config.max_word_bytes);
  const size_t room = static_cast<size_t>(config.max_vocab - SpecialTokens::count);
  std::vector<std::string> vocab = special_token_names();
  for (auto& word : frequent_words(std::move(counts), config.min_frequency, room)) vocab.push_back(std::move(word));
  util::log()->info("word tokenizer: {} ids ({} words) from {} texts", vocab.size(),
                    vocab.size() - SpecialTokens::count, texts.size());
  return std::make_unique<WordTokenizer>(std::move(vocab), config.lowercase, config.max_word_bytes);
}

std::unique_ptr<WordTokenizer> WordTokenizer::from_json(const util::Json& json, const std::string& origin) {
  util::ObjectReader r(json, origin);
  std::string kind;
  bool lowercase = true;
  int64_t max_word_bytes = 0;
  std::vector<std::string> vocab;
  r.require("kind", kind).require("lowercase", lowercase).require("max_word_bytes", max_word_bytes);
  r.require("vocab", vocab);
  r.finish();
  if (kind != "word") throw Error(r.where("kind") + ": expected \"word\", found \"" + kind + "\"");
  try {
    return std::make_unique<WordTokenizer>(std::move(vocab), lowercase, max_word_bytes);
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
}

util::Json WordTokenizer::to_json() const {
  return {{"kind", kind()}, {"lowercase", lowercase_}, {"max_word_bytes", max_word_bytes_}, {"vocab", vocab_}};
}

int64_t WordTokenizer::id_of(std::string_view word) const {
  const auto it = ids_.find(normalize(word, lowercase_));
  return it == ids_.end() ? SpecialTokens::unk : it->second;
}

std::vector<Token> WordTokenizer::tokenize(std::string_view text) const {
  std::vector<Token> tokens;
  for (const Span& s : split_words(text)) {
    const size_t length = s.end - s.begin;
    const int64_t id = static_cast<int64_t>(length) > max_word_bytes_ ? SpecialTokens::unk
                                                                       : id_of(text.substr(s.begin, length));
    tokens.push_back({id, static_cast<int64_t>(s.begin), static_cast<int64_t>(s.end)});
  }
  return tokens;
}

std::string WordTokenizer::token_text(int64_t id) const {
  if (id < 0 || id >= vocab_size())
    throw Error("word tokenizer: token id " + std::to_string(id) + " is outside [0, " +
                std::to_string(vocab_size()) + ")");
  return vocab_[static_cast<size_t>(id)];
}

void WordTokenizer::save(const std::filesystem::path& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create directory " + dir.string() + ": " + ec.message());
  util::write_file_atomic(dir / kTokenizerFile, to_json().dump(2) + "\n");
}

}  // namespace focus::data
