// The SentencePiece tokenizer: tokenization of any text with models trained at
// start-up (unigram and BPE), and loading a saved tokenizer (tokenizer.json
// plus the model file). The first byte picks the mode: 0 mod 3, the rest is a
// text; 1 mod 3, the rest is a tokenizer.json read next to a valid model; 2
// mod 3, the rest is a model file (a serialized SentencePiece model proto).
// This target runs without LibTorch and calls SentencePiece directly (the
// library loads it as a plugin with RTLD_DEEPBIND, which sanitizers refuse).
#include <memory>

#include "focus/data/sentencepiece_tokenizer.h"
#include "tokens_check.h"

namespace {

std::unique_ptr<focus::data::SentencePieceTokenizer> trained(const std::string& model_type) {
  std::vector<std::string> texts;
  const char* const lines[] = {
      "Don't panic: the quick brown fox jumps over the lazy dog.", "Naïve café owners in 東京 sell crème brûlée!",
      "rock'n'roll isn't dead -- it's 2026, and e-mail still works.", "ﬁne print: ½ off, ＡＢＣ wide letters",
      "Subject: free money!!! click http://example.com/?a=1&b=2 now", "tab\tseparated\tvalues and  double  spaces"};
  for (int copy = 0; copy < 20; ++copy)
    for (const char* line : lines) texts.push_back(std::string(line) + " " + std::to_string(copy));
  focus::data::TokenizerConfig config;
  config.kind = "sentencepiece";
  config.model_type = model_type;
  config.vocab_size = 120;
  config.character_coverage = 1.0;
  return focus::data::SentencePieceTokenizer::train(config, texts);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace focus;
  static const auto unigram = trained("unigram");
  static const auto bpe = trained("bpe");
  if (size < 1) return 0;
  const auto rest = fuzz::bytes_of(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      fuzz::check_tokens(*unigram, rest);
      fuzz::check_tokens(*bpe, rest);
      break;
    case 1: {
      auto read = [&](const std::string& name) {
        if (name == data::kTokenizerFile) return std::string(rest);
        if (name == data::SentencePieceTokenizer::kModelFile) return unigram->serialized_model();
        throw Error("no extra file " + name);
      };
      std::unique_ptr<data::Tokenizer> loaded;
      if (fuzz::accepts([&] { loaded = data::load_tokenizer(read, "fuzz.pt"); }))
        fuzz::check_tokens(*loaded, "the quick brown fox, naïve 東京 ½");
      break;
    }
    default: {
      std::unique_ptr<data::SentencePieceTokenizer> loaded;
      if (fuzz::accepts([&] { loaded = std::make_unique<data::SentencePieceTokenizer>(std::string(rest), "unigram", "fuzz.model"); }))
        fuzz::check_tokens(*loaded, "the quick brown fox, naïve 東京 ½");
    }
  }
  return 0;
}
