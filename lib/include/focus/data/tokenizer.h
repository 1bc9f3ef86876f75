#pragma once
// Text tokenizers: turn a text into vocabulary ids, each with the byte span
// of the original text it came from (for attention maps over the words).
// Two kinds share this interface: WordTokenizer (whole words and punctuation)
// and SentencePieceTokenizer (learned subword pieces). Every tokenizer
// reserves ids 0..4 for the special tokens; it is trained on the training
// split, saved into the run directory as tokenizer.json (plus any model file
// it names) and loaded back from there by the later tools.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "focus/util/json_reader.h"

namespace focus::data {

/// Ids 0..4 are the special tokens in every tokenizer.
struct SpecialTokens {
  static constexpr int64_t pad = 0, unk = 1, cls = 2, sep = 3, mask = 4;
  static constexpr int64_t count = 5;
};

/// "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" by id.
const std::vector<std::string>& special_token_names();

/// A token and where it came from: bytes [begin, end) of the original text.
struct Token {
  int64_t id = 0;
  int64_t begin = 0;
  int64_t end = 0;
};

/// The `tokenizer` section of a text recipe. Fields of the other kind are
/// ignored (but still checked when read from JSON).
struct TokenizerConfig {
  std::string kind = "word";  ///< "word" or "sentencepiece"
  // word
  bool lowercase = true;        ///< ASCII lowercasing for lookup; non-ASCII letters are kept as-is
  int64_t min_frequency = 2;    ///< words seen fewer times in the training texts map to [UNK] (>= 1)
  int64_t max_vocab = 30000;    ///< upper bound including the 5 special tokens; the most frequent
                                ///< words are kept, ties broken by the word's bytes (> 5)
  int64_t max_word_bytes = 40;  ///< longer runs (base64 blobs, URLs) become one [UNK] (>= 1)
  // sentencepiece
  std::string model_type = "unigram";  ///< "unigram" or "bpe"
  int64_t vocab_size = 8000;           ///< upper bound including the 5 special tokens (> 5); a small
                                       ///< corpus may yield fewer pieces (logged as a warning)
  double character_coverage = 0.9995;  ///< share of characters the pieces must cover, in (0, 1]
  int64_t max_training_sentences = 200000;  ///< lines used for training, an evenly spaced subset
                                            ///< when there are more (0 = all)
};

/// Reads the recipe's tokenizer section strictly (unknown keys and values out
/// of range are errors naming `context`).
TokenizerConfig parse_tokenizer_config(const util::Json& json, const std::string& context);
util::Json to_json(const TokenizerConfig& config);
/// Checks kind, model_type and ranges; throws focus::Error naming `context`.
void validate_tokenizer_config(const TokenizerConfig& config, const std::string& context);

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  /// "word" or "sentencepiece", as in TokenizerConfig::kind.
  virtual std::string kind() const = 0;
  /// Vocabulary size including the special tokens.
  virtual int64_t vocab_size() const = 0;
  /// Tokens of a text, without special tokens; offsets index the given bytes.
  virtual std::vector<Token> tokenize(std::string_view text) const = 0;
  /// Display form of a token id (special names for 0..4). Throws for ids
  /// outside [0, vocab_size()).
  virtual std::string token_text(int64_t id) const = 0;
  /// Writes tokenizer.json (and any model file it refers to) into `dir`,
  /// creating `dir` if needed; every file is written atomically.
  virtual void save(const std::filesystem::path& dir) const = 0;
};

/// The file save() writes and load_tokenizer() reads, relative to the directory.
inline constexpr const char* kTokenizerFile = "tokenizer.json";

/// Trains on texts (the training split). Throws focus::Error for a bad config
/// or when training fails.
std::unique_ptr<Tokenizer> train_tokenizer(const TokenizerConfig& config, const std::vector<std::string>& texts);

/// Loads what save() wrote into `dir`; errors name the file at fault.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& dir);
/// Returns the bytes of a saved tokenizer's file by name (tokenizer.json, and
/// the model file it names); throws focus::Error when there is none.
using TokenizerFileReader = std::function<std::string(const std::string& name)>;
/// Loads a saved tokenizer from wherever `read` finds its files (for example
/// the extra files of a TorchScript archive); `origin` prefixes error messages.
std::unique_ptr<Tokenizer> load_tokenizer(const TokenizerFileReader& read, const std::string& origin);

}  // namespace focus::data
