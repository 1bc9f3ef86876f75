#include "focus/data/tokenizer.h"

#include "focus/data/sentencepiece_tokenizer.h"
#include "focus/data/word_tokenizer.h"
#include "focus/util/atomic_file.h"
#include "focus/util/error.h"

namespace focus::data {
namespace {

void check_at_least(int64_t value, int64_t least, const std::string& where) {
  if (value < least)
    throw Error(where + ": expected a value >= " + std::to_string(least) + ", found " + std::to_string(value));
}

void check_one_of(const std::string& value, const std::string& a, const std::string& b, const std::string& where) {
  if (value != a && value != b)
    throw Error(where + ": expected one of {" + a + ", " + b + "}, found \"" + value + "\"");
}

}  // namespace

const std::vector<std::string>& special_token_names() {
  static const std::vector<std::string> names = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  return names;
}

void validate_tokenizer_config(const TokenizerConfig& c, const std::string& context) {
  check_one_of(c.kind, "word", "sentencepiece", context + ".kind");
  check_one_of(c.model_type, "unigram", "bpe", context + ".model_type");
  check_at_least(c.min_frequency, 1, context + ".min_frequency");
  check_at_least(c.max_vocab, SpecialTokens::count + 1, context + ".max_vocab");
  check_at_least(c.max_word_bytes, 1, context + ".max_word_bytes");
  check_at_least(c.vocab_size, SpecialTokens::count + 1, context + ".vocab_size");
  check_at_least(c.max_training_sentences, 0, context + ".max_training_sentences");
  if (!(c.character_coverage > 0 && c.character_coverage <= 1))
    throw Error(context + ".character_coverage: expected a value in (0, 1], found " +
                std::to_string(c.character_coverage));
}

TokenizerConfig parse_tokenizer_config(const util::Json& json, const std::string& context) {
  TokenizerConfig c;
  util::ObjectReader r(json, context);
  r.read_choice("kind", c.kind, {"word", "sentencepiece"});
  r.read("lowercase", c.lowercase).read("min_frequency", c.min_frequency).read("max_vocab", c.max_vocab);
  r.read("max_word_bytes", c.max_word_bytes);
  r.read_choice("model_type", c.model_type, {"unigram", "bpe"});
  r.read("vocab_size", c.vocab_size).read("character_coverage", c.character_coverage);
  r.read("max_training_sentences", c.max_training_sentences);
  r.finish();
  validate_tokenizer_config(c, context);
  return c;
}

util::Json to_json(const TokenizerConfig& c) {
  return {{"kind", c.kind},
          {"lowercase", c.lowercase},
          {"min_frequency", c.min_frequency},
          {"max_vocab", c.max_vocab},
          {"max_word_bytes", c.max_word_bytes},
          {"model_type", c.model_type},
          {"vocab_size", c.vocab_size},
          {"character_coverage", c.character_coverage},
          {"max_training_sentences", c.max_training_sentences}};
}

std::unique_ptr<Tokenizer> train_tokenizer(const TokenizerConfig& config, const std::vector<std::string>& texts) {
  validate_tokenizer_config(config, "tokenizer");
  if (config.kind == "sentencepiece") return SentencePieceTokenizer::train(config, texts);
  return WordTokenizer::train(config, texts);
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& dir) {
  return load_tokenizer([&dir](const std::string& name) { return util::read_file(dir / name); }, dir.string());
}

std::unique_ptr<Tokenizer> load_tokenizer(const TokenizerFileReader& read, const std::string& origin_prefix) {
  const std::string origin = (std::filesystem::path(origin_prefix) / kTokenizerFile).string();
  const util::Json json = util::parse_json_text(read(kTokenizerFile), origin);
  util::ObjectReader r(json, origin);
  std::string kind;
  r.require("kind", kind);
  if (kind == "word") return WordTokenizer::from_json(json, origin);
  if (kind == "sentencepiece") return SentencePieceTokenizer::load(read, origin_prefix, json, origin);
  throw Error(r.where("kind") + ": expected one of {word, sentencepiece}, found \"" + kind + "\"");
}

}  // namespace focus::data
