// Word and SentencePiece tokenizers: segmentation, offsets into the original
// text, vocabulary limits, determinism, save/load and error messages.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

#include "focus/data/sentencepiece_tokenizer.h"
#include "focus/data/tokenizer.h"
#include "focus/data/word_tokenizer.h"
#include "focus/util/error.h"
#include "temp_dir.h"

using focus::data::SentencePieceTokenizer;
using focus::data::SpecialTokens;
using focus::data::Token;
using focus::data::TokenizerConfig;
using focus::data::WordTokenizer;

namespace {

const std::string kMarker = "\xE2\x96\x81";  // SentencePiece's whitespace marker "▁"

const std::vector<std::string> kSampleTexts = {
    "Hello, World!",
    "  leading and trailing spaces  ",
    "MiXeD CaSe wOrDs and the Cat",
    "naïve café – 東京",
    "Don't stop: 3.14 > 2?",
    "",
    "   ",
    "tab\tseparated\nlines\r\nhere",
    "ﬁne  ＡＢＣ   x",
    "bad \xff\xfe bytes",
};

bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string span_of(std::string_view text, const Token& t) {
  return std::string(text.substr(static_cast<size_t>(t.begin), static_cast<size_t>(t.end - t.begin)));
}

std::vector<std::string> spans_of(std::string_view text, const std::vector<Token>& tokens) {
  std::vector<std::string> out;
  for (const auto& t : tokens) out.push_back(span_of(text, t));
  return out;
}

std::vector<int64_t> ids_of(const std::vector<Token>& tokens) {
  std::vector<int64_t> out;
  for (const auto& t : tokens) out.push_back(t.id);
  return out;
}

/// Spans lie inside the text, in order, without overlap; ids are in range.
void check_spans(const focus::data::Tokenizer& tok, std::string_view text, bool allow_empty) {
  INFO("text: \"" << std::string(text) << "\"");
  int64_t previous_end = 0;
  for (const auto& t : tok.tokenize(text)) {
    CHECK(t.begin >= previous_end);
    CHECK((allow_empty ? t.begin <= t.end : t.begin < t.end));
    CHECK(t.end <= static_cast<int64_t>(text.size()));
    CHECK(t.id >= SpecialTokens::unk);
    CHECK(t.id < tok.vocab_size());
    CHECK(t.id != SpecialTokens::cls);
    CHECK(t.id != SpecialTokens::sep);
    CHECK(t.id != SpecialTokens::mask);
    previous_end = t.end;
  }
}

void write(const std::filesystem::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

/// Sentences mixing English words with made-up ones built from syllables
/// (enough distinct substrings for a few hundred pieces), the same on every call.
std::vector<std::string> generated_corpus(size_t count) {
  static const char* words[] = {"the",     "a",      "cat",    "dog",    "sat",     "on",     "mat",    "ran",
                                "quickly", "over",   "lazy",   "fox",    "jumps",   "brown",  "river",  "stone",
                                "green",   "house",  "light",  "under",  "bridge",  "slowly", "reads",  "writes",
                                "books",   "letters", "garden", "window", "morning", "evening", "small",  "large",
                                "bright",  "quiet",  "walks",  "talks",  "sings",   "dances", "blue",   "yellow"};
  static const char* syllables[] = {"ka", "lo", "mi", "re", "su", "ta", "ne", "po", "vi", "da", "gu", "se"};
  const size_t n_words = sizeof(words) / sizeof(words[0]), n_syllables = sizeof(syllables) / sizeof(syllables[0]);
  uint32_t state = 12345;
  auto next = [&state] { return (state = state * 1103515245u + 12345u) >> 16; };
  auto made_up = [&](size_t w) {
    std::string word = std::string(syllables[w % n_syllables]) + syllables[(w / n_syllables) % n_syllables];
    return w % 3 == 0 ? word + syllables[(w * 7) % n_syllables] : word;
  };
  std::vector<std::string> corpus;
  for (size_t i = 0; i < count; ++i) {
    std::string line;
    const size_t length = 4 + next() % 8;
    for (size_t j = 0; j < length; ++j)
      line += (j ? " " : "") + (next() % 2 ? std::string(words[next() % n_words]) : made_up(next() % 150));
    line += (i % 3 == 0) ? "." : (i % 3 == 1 ? "," : "!");
    corpus.push_back(line);
  }
  return corpus;
}

TokenizerConfig sentencepiece_config(const std::string& model_type, int64_t vocab_size) {
  TokenizerConfig c;
  c.kind = "sentencepiece";
  c.model_type = model_type;
  c.vocab_size = vocab_size;
  return c;
}

WordTokenizer small_word_tokenizer() {
  auto vocab = focus::data::special_token_names();
  for (const char* w : {"hello", ",", "world", "!", "don't", "naïve", "café", "–", "東京", "the", "cat", "and"})
    vocab.push_back(w);
  return WordTokenizer(vocab);
}

}  // namespace

TEST_CASE("special tokens are ids 0..4 with fixed names", "[data][tokenizer][sentencepiece]") {
  const auto& names = focus::data::special_token_names();
  REQUIRE(names == std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"});
  CHECK(SpecialTokens::pad == 0);
  CHECK(SpecialTokens::unk == 1);
  CHECK(SpecialTokens::cls == 2);
  CHECK(SpecialTokens::sep == 3);
  CHECK(SpecialTokens::mask == 4);
  CHECK(SpecialTokens::count == 5);
  auto word = small_word_tokenizer();
  auto piece = SentencePieceTokenizer::train(sentencepiece_config("unigram", 100), generated_corpus(300));
  for (int64_t id = 0; id < SpecialTokens::count; ++id) {
    CHECK(word.token_text(id) == names[static_cast<size_t>(id)]);
    CHECK(piece->token_text(id) == names[static_cast<size_t>(id)]);
  }
  for (int64_t id = SpecialTokens::count; id < piece->vocab_size(); ++id) {
    CHECK(std::find(names.begin(), names.end(), piece->token_text(id)) == names.end());
    CHECK(piece->token_text(id) != "<unk>");
  }
  CHECK_THROWS_AS(word.token_text(word.vocab_size()), focus::Error);
  CHECK_THROWS_AS(piece->token_text(-1), focus::Error);
}

TEST_CASE("word tokenizer splits words, punctuation and UTF-8 characters", "[data][tokenizer]") {
  const auto tok = small_word_tokenizer();
  const std::string text = "Hello, WORLD! Don't 'quote' naïve café – 東京?";
  const auto tokens = tok.tokenize(text);
  CHECK(spans_of(text, tokens) == std::vector<std::string>{"Hello", ",", "WORLD", "!", "Don't", "'", "quote", "'",
                                                           "naïve", "café", "–", "東京", "?"});
  CHECK(ids_of(tokens) == std::vector<int64_t>{5, 6, 7, 8, 9, 1, 1, 1, 10, 11, 12, 13, 1});
  CHECK(tok.tokenize("").empty());
  CHECK(tok.tokenize(" \t\r\n ").empty());
  CHECK(spans_of("a\xC2\xA0" "b", tok.tokenize("a\xC2\xA0" "b")) == std::vector<std::string>{"a\xC2\xA0" "b"});
}

TEST_CASE("word tokenizer offsets index the original text", "[data][tokenizer]") {
  const auto tok = WordTokenizer::train(TokenizerConfig{}, kSampleTexts);
  for (const auto& text : kSampleTexts) {
    check_spans(*tok, text, false);
    for (const auto& t : tok->tokenize(text)) {
      const std::string lowered = ascii_lower(span_of(text, t));
      if (t.id == SpecialTokens::unk)
        CHECK(tok->id_of(lowered) == SpecialTokens::unk);
      else
        CHECK(tok->token_text(t.id) == lowered);
    }
  }
}

TEST_CASE("word tokenizer lowercases ASCII for lookup only", "[data][tokenizer]") {
  const std::vector<std::string> texts = {"The THE the Über über"};
  TokenizerConfig c;
  c.min_frequency = 1;
  const auto lower = WordTokenizer::train(c, texts);
  CHECK(lower->vocab() == std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "Über", "über"});
  const auto tokens = lower->tokenize("tHe");
  REQUIRE(tokens.size() == 1);
  CHECK(tokens[0].id == 5);
  c.lowercase = false;
  const auto cased = WordTokenizer::train(c, texts);
  CHECK(cased->vocab_size() == SpecialTokens::count + 5);
  CHECK(cased->tokenize("tHe")[0].id == SpecialTokens::unk);
}

TEST_CASE("word tokenizer turns runs longer than max_word_bytes into one [UNK]", "[data][tokenizer]") {
  const std::string blob(100, 'x');
  TokenizerConfig c;
  c.min_frequency = 1;
  c.max_word_bytes = 10;
  const auto tok = WordTokenizer::train(c, {blob + " short " + blob});
  CHECK(tok->vocab_size() == SpecialTokens::count + 1);
  const std::string text = "short " + blob + " short";
  const auto tokens = tok->tokenize(text);
  REQUIRE(tokens.size() == 3);
  CHECK(ids_of(tokens) == std::vector<int64_t>{5, SpecialTokens::unk, 5});
  CHECK(tokens[1].begin == 6);
  CHECK(tokens[1].end == 106);
}

TEST_CASE("word tokenizer training respects min_frequency and max_vocab", "[data][tokenizer]") {
  const std::vector<std::string> texts = {"the cat sat.", "The cat ran.", "the dog", "a bird"};
  TokenizerConfig c;
  c.min_frequency = 2;
  auto tok = WordTokenizer::train(c, texts);
  CHECK(tok->vocab() == std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", ".", "cat"});
  c.min_frequency = 1;
  CHECK(WordTokenizer::train(c, texts)->vocab_size() == SpecialTokens::count + 8);
  c.max_vocab = 9;  // ties (count 1) broken by the word's bytes: "a" before "bird"
  tok = WordTokenizer::train(c, texts);
  CHECK(tok->vocab() == std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", ".", "cat", "a"});
  CHECK(WordTokenizer::train(c, {})->vocab_size() == SpecialTokens::count);
}

TEST_CASE("word tokenizer training is deterministic and skips invalid UTF-8", "[data][tokenizer]") {
  auto corpus = generated_corpus(200);
  corpus.push_back("caf\xe9 caf\xe9 caf\xe9");
  const auto a = WordTokenizer::train(TokenizerConfig{}, corpus);
  const auto b = WordTokenizer::train(TokenizerConfig{}, corpus);
  CHECK(a->vocab() == b->vocab());
  CHECK(a->id_of("caf\xe9") == SpecialTokens::unk);
  for (const auto& text : corpus) CHECK(ids_of(a->tokenize(text)) == ids_of(b->tokenize(text)));
  focus::testing::TempDir dir;
  CHECK_NOTHROW(a->save(dir.path()));
}

TEST_CASE("word tokenizer rejects bad vocabularies", "[data][tokenizer]") {
  auto vocab = focus::data::special_token_names();
  CHECK_THROWS_WITH(WordTokenizer({"[PAD]", "[UNK]"}), Catch::Contains("special tokens"));
  auto swapped = vocab;
  std::swap(swapped[2], swapped[3]);
  CHECK_THROWS_WITH(WordTokenizer(swapped), Catch::Contains("entry 2 must be \"[CLS]\""));
  auto repeated = vocab;
  repeated.insert(repeated.end(), {"cat", "dog", "cat"});
  CHECK_THROWS_WITH(WordTokenizer(repeated), Catch::Contains("repeats entry 5"));
  auto empty = vocab;
  empty.push_back("");
  CHECK_THROWS_WITH(WordTokenizer(empty), Catch::Contains("empty"));
  auto overlong = vocab;
  overlong.push_back("\xC0\x80");
  CHECK_THROWS_WITH(WordTokenizer(overlong), Catch::Contains("not valid UTF-8"));
  CHECK_THROWS_AS(WordTokenizer(vocab, true, 0), focus::Error);
}

TEST_CASE("word tokenizer save and load give identical tokenization", "[data][tokenizer]") {
  TokenizerConfig c;
  c.min_frequency = 1;
  c.lowercase = false;
  c.max_word_bytes = 12;
  const auto trained = focus::data::train_tokenizer(c, kSampleTexts);
  focus::testing::TempDir dir;
  trained->save(dir / "nested");
  const auto loaded = focus::data::load_tokenizer(dir / "nested");
  CHECK(loaded->kind() == "word");
  REQUIRE(loaded->vocab_size() == trained->vocab_size());
  const auto& word = dynamic_cast<const WordTokenizer&>(*loaded);
  CHECK(!word.lowercase());
  CHECK(word.max_word_bytes() == 12);
  for (int64_t id = 0; id < loaded->vocab_size(); ++id) CHECK(loaded->token_text(id) == trained->token_text(id));
  for (const auto& text : kSampleTexts) {
    const auto a = trained->tokenize(text), b = loaded->tokenize(text);
    CHECK(ids_of(a) == ids_of(b));
    CHECK(spans_of(text, a) == spans_of(text, b));
  }
}

TEST_CASE("sentencepiece training gives the configured vocab size and valid offsets", "[data][tokenizer][sentencepiece]") {
  const auto corpus = generated_corpus(400);
  for (const std::string model_type : {"unigram", "bpe"}) {
    INFO(model_type);
    const auto tok = focus::data::train_tokenizer(sentencepiece_config(model_type, 120), corpus);
    CHECK(tok->kind() == "sentencepiece");
    CHECK(tok->vocab_size() == 120);
    for (const auto& text : kSampleTexts) {
      check_spans(*tok, text, true);
      const auto tokens = tok->tokenize(text);
      if (!tokens.empty()) CHECK(tok->token_text(tokens.front().id) != kMarker);  // the dummy prefix is dropped
      for (const auto& t : tokens) {
        if (t.begin < t.end) CHECK(!is_space(text[static_cast<size_t>(t.begin)]));
        if (tok->token_text(t.id) == kMarker) CHECK(t.begin == t.end);
      }
    }
    for (size_t i = 0; i < 50; ++i) check_spans(*tok, corpus[i], true);
  }
}

TEST_CASE("sentencepiece pieces match the original text", "[data][tokenizer][sentencepiece]") {
  const auto corpus = generated_corpus(400);
  for (const std::string model_type : {"unigram", "bpe"}) {
    INFO(model_type);
    const auto tok = focus::data::train_tokenizer(sentencepiece_config(model_type, 100), corpus);
    for (size_t i = 0; i < 40; ++i) {
      const std::string& text = corpus[i];
      const auto tokens = tok->tokenize(text);
      REQUIRE(!tokens.empty());
      CHECK(tokens.front().begin == 0);
      CHECK(tokens.back().end == static_cast<int64_t>(text.size()));
      for (size_t k = 0; k < tokens.size(); ++k) {
        REQUIRE(tokens[k].id != SpecialTokens::unk);
        if (k > 0) {  // only the whitespace a marker stands for lies between pieces
          const auto gap = text.substr(static_cast<size_t>(tokens[k - 1].end),
                                       static_cast<size_t>(tokens[k].begin - tokens[k - 1].end));
          const std::string piece = tok->token_text(tokens[k].id);
          CHECK(gap == (piece.rfind(kMarker, 0) == 0 ? " " : ""));
        }
        std::string surface = tok->token_text(tokens[k].id);
        if (surface.rfind(kMarker, 0) == 0) surface.erase(0, kMarker.size());
        CHECK(surface == span_of(text, tokens[k]));
      }
    }
  }
}

TEST_CASE("sentencepiece maps unknown text to [UNK], never to other special ids", "[data][tokenizer][sentencepiece]") {
  const auto tok = focus::data::train_tokenizer(sentencepiece_config("unigram", 100), generated_corpus(300));
  const std::string text = "[CLS] the [SEP] <unk> <s> </s> [MASK] [PAD] §";
  check_spans(*tok, text, true);
  const auto ids = ids_of(tok->tokenize(text));
  CHECK(std::count(ids.begin(), ids.end(), SpecialTokens::pad) == 0);
  CHECK(std::count(ids.begin(), ids.end(), SpecialTokens::unk) > 0);
  const auto alone = tok->tokenize("§");  // "▁" (empty) + unknown: the marker is dropped
  REQUIRE(alone.size() == 1);
  CHECK(alone[0].id == SpecialTokens::unk);
  CHECK(alone[0].begin == 0);
  CHECK(alone[0].end == 2);
  const std::string spaced = "the \n\n §";  // "▁" standing for whitespace is kept, as an empty span
  const auto kept = tok->tokenize(spaced);
  REQUIRE(kept.size() == 3);
  CHECK(span_of(spaced, kept[0]) == "the");
  CHECK(tok->token_text(kept[1].id) == kMarker);
  CHECK(kept[1].begin == 7);
  CHECK(kept[1].end == 7);
  CHECK(kept[2].id == SpecialTokens::unk);
  CHECK(span_of(spaced, kept[2]) == "§");
  const std::string expanded = "ﬁne";  // NFKC: "ﬁ" -> "f" "i"
  const auto pieces = tok->tokenize(expanded);
  REQUIRE(!pieces.empty());
  CHECK(pieces.front().begin == 0);
  CHECK(pieces.back().end == static_cast<int64_t>(expanded.size()));
  const std::string leading = "  the cat";
  const auto words = tok->tokenize(leading);
  REQUIRE(!words.empty());
  CHECK(words.front().begin == 2);
}

TEST_CASE("sentencepiece training is deterministic and round-trips through save/load", "[data][tokenizer][sentencepiece]") {
  const auto corpus = generated_corpus(300);
  for (const std::string model_type : {"unigram", "bpe"}) {
    INFO(model_type);
    const auto config = sentencepiece_config(model_type, 90);
    const auto a = SentencePieceTokenizer::train(config, corpus);
    const auto b = SentencePieceTokenizer::train(config, corpus);
    CHECK(a->serialized_model() == b->serialized_model());
    focus::testing::TempDir dir;
    a->save(dir.path());
    CHECK(std::filesystem::exists(dir / "tokenizer.model"));
    const auto loaded = focus::data::load_tokenizer(dir.path());
    CHECK(loaded->kind() == "sentencepiece");
    CHECK(dynamic_cast<const SentencePieceTokenizer&>(*loaded).model_type() == model_type);
    REQUIRE(loaded->vocab_size() == a->vocab_size());
    for (int64_t id = 0; id < a->vocab_size(); ++id) CHECK(loaded->token_text(id) == a->token_text(id));
    std::vector<std::string> texts = kSampleTexts;
    texts.insert(texts.end(), corpus.begin(), corpus.begin() + 20);
    for (const auto& text : texts) {
      const auto x = a->tokenize(text), y = b->tokenize(text), z = loaded->tokenize(text);
      CHECK(ids_of(x) == ids_of(y));
      CHECK(ids_of(x) == ids_of(z));
      CHECK(spans_of(text, x) == spans_of(text, z));
    }
  }
}

TEST_CASE("sentencepiece vocab_size is an upper bound on a small corpus", "[data][tokenizer][sentencepiece]") {
  const std::vector<std::string> texts = {"ab ab ab ba", "ba ab\n\n  \nabba ab", "ab \xff\xfe ba"};
  for (const std::string model_type : {"unigram", "bpe"}) {
    INFO(model_type);
    const auto tok = SentencePieceTokenizer::train(sentencepiece_config(model_type, 1000), texts);
    CHECK(tok->vocab_size() > SpecialTokens::count);
    CHECK(tok->vocab_size() < 1000);
  }
}

TEST_CASE("sentencepiece training reports what went wrong", "[data][tokenizer][sentencepiece]") {
  const auto corpus = generated_corpus(100);
  std::string message;
  try {
    SentencePieceTokenizer::train(sentencepiece_config("unigram", 6), corpus);
  } catch (const focus::Error& e) {
    message = e.what();
  }
  CHECK_THAT(message, Catch::Contains("character_coverage") && Catch::Contains("vocab_size to at least "));
  const auto at = message.find("at least ");
  REQUIRE(at != std::string::npos);
  const int64_t least = std::stoll(message.substr(at + 9));
  CHECK_NOTHROW(SentencePieceTokenizer::train(sentencepiece_config("unigram", least), corpus));
  CHECK_THROWS_AS(SentencePieceTokenizer::train(sentencepiece_config("unigram", least - 1), corpus), focus::Error);
  CHECK_THROWS_WITH(SentencePieceTokenizer::train(sentencepiece_config("bpe", 100), {"", " \n\t\n"}),
                    Catch::Contains("no non-blank line"));
}

TEST_CASE("sentencepiece training uses long lines in chunks", "[data][tokenizer][sentencepiece]") {
  std::string line;
  while (line.size() < 3 * SentencePieceTokenizer::kMaxTrainingLineBytes) line += "alpha beta gamma delta ";
  const auto tok = SentencePieceTokenizer::train(sentencepiece_config("unigram", 30), {line});
  const auto ids = ids_of(tok->tokenize("gamma alpha delta beta"));
  CHECK(std::count(ids.begin(), ids.end(), SpecialTokens::unk) == 0);
}

TEST_CASE("sentencepiece max_training_sentences takes an evenly spaced subset", "[data][tokenizer][sentencepiece]") {
  auto config = sentencepiece_config("unigram", 20);
  config.max_training_sentences = 2;
  const std::vector<std::string> texts = {"zzz zzz zzz", "qqq qqq", "kkk kkk", "yyy yyy", "www www"};
  const auto tok = SentencePieceTokenizer::train(config, texts);  // lines 0 and 2
  auto unknown = [&](const std::string& text) {
    const auto ids = ids_of(tok->tokenize(text));
    return std::count(ids.begin(), ids.end(), SpecialTokens::unk);
  };
  CHECK(unknown("zzz kkk") == 0);
  CHECK(unknown("qqq") == 1);
  CHECK(unknown("yyy") == 1);
}

TEST_CASE("tokenizer config is read strictly and written back", "[data][tokenizer]") {
  const auto defaults = focus::data::parse_tokenizer_config(focus::util::Json::object(), "recipe: tokenizer");
  CHECK(focus::data::to_json(defaults) == focus::data::to_json(TokenizerConfig{}));
  TokenizerConfig c = sentencepiece_config("bpe", 500);
  c.character_coverage = 0.99995;
  c.max_training_sentences = 0;
  const auto json = focus::data::to_json(c);
  CHECK(focus::data::to_json(focus::data::parse_tokenizer_config(json, "t")) == json);
  const auto bad = [](const char* text) {
    return focus::data::parse_tokenizer_config(focus::util::Json::parse(text), "recipe: tokenizer");
  };
  CHECK_THROWS_WITH(bad(R"({"kind": "bert"})"), Catch::Contains("recipe: tokenizer.kind"));
  CHECK_THROWS_WITH(bad(R"({"model_type": "char"})"), Catch::Contains("model_type") && Catch::Contains("char"));
  CHECK_THROWS_WITH(bad(R"({"vocab": 10})"), Catch::Contains("unknown key 'vocab'"));
  CHECK_THROWS_WITH(bad(R"({"min_frequency": 0})"), Catch::Contains("min_frequency"));
  CHECK_THROWS_WITH(bad(R"({"max_vocab": 5})"), Catch::Contains("max_vocab"));
  CHECK_THROWS_WITH(bad(R"({"vocab_size": "many"})"), Catch::Contains("expected an integer"));
  CHECK_THROWS_WITH(bad(R"({"character_coverage": 1.5})"), Catch::Contains("character_coverage"));
  TokenizerConfig unknown_kind;
  unknown_kind.kind = "bert";
  CHECK_THROWS_WITH(focus::data::train_tokenizer(unknown_kind, {"a b"}), Catch::Contains("kind"));
  TokenizerConfig unknown_model = sentencepiece_config("char", 100);
  CHECK_THROWS_WITH(focus::data::train_tokenizer(unknown_model, {"a b"}), Catch::Contains("model_type"));
}

TEST_CASE("load_tokenizer errors name the file at fault", "[data][tokenizer][sentencepiece]") {
  focus::testing::TempDir dir;
  CHECK_THROWS_WITH(focus::data::load_tokenizer(dir.path()), Catch::Contains("tokenizer.json"));
  write(dir / "tokenizer.json", "{\"kind\": ");
  CHECK_THROWS_WITH(focus::data::load_tokenizer(dir.path()),
                    Catch::Contains("tokenizer.json") && Catch::Contains("invalid JSON"));
  write(dir / "tokenizer.json", R"({"kind": "bert"})");
  CHECK_THROWS_WITH(focus::data::load_tokenizer(dir.path()),
                    Catch::Contains("tokenizer.json") && Catch::Contains("bert"));
  write(dir / "tokenizer.json", R"({"kind": "word", "lowercase": true, "max_word_bytes": 40, "vocab": ["a"]})");
  CHECK_THROWS_WITH(focus::data::load_tokenizer(dir.path()),
                    Catch::Contains("tokenizer.json") && Catch::Contains("special tokens"));
  write(dir / "tokenizer.json", R"({"kind": "word", "lowercase": true, "vocab": []})");
  CHECK_THROWS_WITH(focus::data::load_tokenizer(dir.path()),
                    Catch::Contains("tokenizer.json") && Catch::Contains("max_word_bytes"));

  const auto tok = SentencePieceTokenizer::train(sentencepiece_config("unigram", 60), generated_corpus(100));
  tok->save(dir.path());
  CHECK_NOTHROW(focus::data::load_tokenizer(dir.path()));
  write(dir / "tokenizer.model", "not a protobuf");
  CHECK_THROWS_WITH(focus::data::load_tokenizer(dir.path()),
                    Catch::Contains("tokenizer.model") && Catch::Contains("not a valid SentencePiece model"));
  std::filesystem::remove(dir / "tokenizer.model");
  CHECK_THROWS_WITH(focus::data::load_tokenizer(dir.path()), Catch::Contains("tokenizer.model"));
  write(dir / "tokenizer.json", R"({"kind": "sentencepiece", "model_file": "../x.model", "model_type": "bpe"})");
  CHECK_THROWS_WITH(focus::data::load_tokenizer(dir.path()),
                    Catch::Contains("tokenizer.json") && Catch::Contains("model_file"));
  write(dir / "tokenizer.json",
        R"({"kind": "sentencepiece", "model_file": "tokenizer.model", "model_type": "bpe", "extra": 1})");
  CHECK_THROWS_WITH(focus::data::load_tokenizer(dir.path()),
                    Catch::Contains("tokenizer.json") && Catch::Contains("unknown key 'extra'"));
  write(dir / "tokenizer.json", R"({"kind": "sentencepiece", "model_file": "tokenizer.model", "model_type": "char"})");
  CHECK_THROWS_WITH(focus::data::load_tokenizer(dir.path()),
                    Catch::Contains("tokenizer.json") && Catch::Contains("model_type"));
}
