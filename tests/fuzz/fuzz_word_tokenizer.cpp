// The word tokenizer: its saved form (tokenizer.json, read from run
// directories and TorchScript archives) and tokenization of any text. The
// first byte picks the mode: even, the rest is a tokenizer.json, and the
// tokenizer it describes must keep the contract on a fixed text; odd, the
// rest is a text for tokenizers trained at start-up.
#include <memory>

#include "focus/data/word_tokenizer.h"
#include "tokens_check.h"

namespace {

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> texts = {
      "Don't panic: the quick brown fox jumps over the lazy dog.", "Naïve café owners in 東京 sell crème brûlée!",
      "rock'n'roll isn't dead -- it's 2026, and e-mail still works.", "The the THE tHe dog dog fox, fox; fox."};
  return texts;
}

std::unique_ptr<focus::data::WordTokenizer> trained(bool lowercase, int64_t max_word_bytes) {
  focus::data::TokenizerConfig config;
  config.min_frequency = 1;
  config.lowercase = lowercase;
  config.max_word_bytes = max_word_bytes;
  return focus::data::WordTokenizer::train(config, corpus());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace focus;
  static const auto lower = trained(true, 40);
  static const auto cased = trained(false, 6);
  if (size < 1) return 0;
  const auto rest = fuzz::bytes_of(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    std::unique_ptr<data::WordTokenizer> loaded;
    if (fuzz::accepts([&] { loaded = data::WordTokenizer::from_json(util::parse_json_text(std::string(rest), "tokenizer.json"), "tokenizer.json"); })) {
      for (const auto& text : corpus()) fuzz::check_tokens(*loaded, text);
      std::unique_ptr<data::WordTokenizer> again;
      fuzz::require(fuzz::accepts([&] { again = data::WordTokenizer::from_json(loaded->to_json(), "again"); }),
                    "a loaded tokenizer's JSON loads again");
      fuzz::require(again->vocab() == loaded->vocab(), "the vocabulary survives the round trip");
    }
  } else {
    fuzz::check_tokens(*lower, rest);
    fuzz::check_tokens(*cased, rest);
  }
  return 0;
}
