#pragma once
// Word tokenizer: a text is cut into words and single punctuation marks, and
// each is looked up in a vocabulary counted on the training texts.
//
// Segmentation, byte by byte (no Unicode tables):
//  - a word is a maximal run of ASCII letters and digits and non-ASCII bytes,
//    so every multibyte UTF-8 character counts as a letter and is never cut
//    ("naïve", "東京" and "–" are words; so is "a\u00a0b", since non-ASCII
//    spaces are not recognised as spaces);
//  - an ASCII apostrophe with word characters on both sides stays inside the
//    word ("don't", "rock'n'roll"); elsewhere it is punctuation;
//  - every other ASCII character that is not whitespace (punctuation,
//    symbols, control characters) is a one-byte token of its own;
//  - ASCII whitespace only separates.
// With `lowercase`, ASCII letters are lowercased for lookup only (non-ASCII
// letters are kept as they are); offsets always index the original text.
// Runs longer than `max_word_bytes`, and words not in the vocabulary, become
// one [UNK] token each.
#include <string>
#include <unordered_map>
#include <vector>

#include "focus/data/tokenizer.h"

namespace focus::data {

class WordTokenizer : public Tokenizer {
 public:
  /// `vocab` lists every token by id and starts with special_token_names().
  /// Entries must be distinct, non-empty, valid UTF-8. Throws focus::Error.
  explicit WordTokenizer(std::vector<std::string> vocab, bool lowercase = true, int64_t max_word_bytes = 40);

  /// Counts the words of `texts` and keeps those seen at least
  /// config.min_frequency times, the most frequent first (ties by the word's
  /// bytes), up to config.max_vocab ids in all. Words that are not valid
  /// UTF-8 are never kept.
  static std::unique_ptr<WordTokenizer> train(const TokenizerConfig& config, const std::vector<std::string>& texts);
  /// Reads {"kind":"word","lowercase":..,"max_word_bytes":..,"vocab":[..]};
  /// errors name `origin`.
  static std::unique_ptr<WordTokenizer> from_json(const util::Json& json, const std::string& origin);
  util::Json to_json() const;

  std::string kind() const override { return "word"; }
  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.size()); }
  std::vector<Token> tokenize(std::string_view text) const override;
  std::string token_text(int64_t id) const override;
  void save(const std::filesystem::path& dir) const override;

  const std::vector<std::string>& vocab() const { return vocab_; }
  bool lowercase() const { return lowercase_; }
  int64_t max_word_bytes() const { return max_word_bytes_; }
  /// The id of a word as it appears in a text (lowercased here if configured);
  /// [UNK] if it is not in the vocabulary.
  int64_t id_of(std::string_view word) const;

 private:
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> ids_;
  bool lowercase_;
  int64_t max_word_bytes_;
};

}  // namespace focus::data
