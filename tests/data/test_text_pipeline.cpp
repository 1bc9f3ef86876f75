// From text to batches: truncation, sentence splitting, offsets, masked-LM
// corruption statistics, padding and bucketing of text batches.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <set>

#include "focus/data/mlm_masking.h"
#include "focus/data/text_batch_source.h"
#include "focus/data/text_encoding.h"
#include "focus/data/word_tokenizer.h"

using namespace focus::data;

namespace {
std::vector<std::string> vocab(std::vector<std::string> words) {
  std::vector<std::string> v = special_token_names();
  v.insert(v.end(), words.begin(), words.end());
  return v;
}
}  // namespace

TEST_CASE("encode_text (flat): [CLS] first, truncation, offsets into the text", "[data][text]") {
  WordTokenizer tok(vocab({"hello", "world", ".", "again"}));
  const std::string text = "Hello, world. Hello again!";
  TextEncodingOptions o;
  o.max_length = 64;
  auto full = encode_text(tok, text, o);
  REQUIRE(full.tokens.size() == 8);  // [CLS] hello , world . hello again !
  CHECK(full.tokens[0].id == SpecialTokens::cls);
  CHECK(full.original_tokens == 7);
  CHECK(text.substr(full.tokens[1].begin, full.tokens[1].end - full.tokens[1].begin) == "Hello");
  CHECK(full.tokens[2].id == SpecialTokens::unk);  // "," is not in the vocabulary
  CHECK(text.substr(full.tokens[6].begin, full.tokens[6].end - full.tokens[6].begin) == "again");
  o.max_length = 4;
  auto cut = encode_text(tok, text, o);
  REQUIRE(cut.tokens.size() == 4);
  CHECK(cut.tokens[3].id == tok.id_of("world"));
  CHECK(cut.original_tokens == 7);
  auto empty = encode_text(tok, "", o);
  REQUIRE(empty.tokens.size() == 1);
  CHECK(empty.tokens[0].id == SpecialTokens::cls);
}

TEST_CASE("encode_text (flat): head + tail truncation keeps the end of a long text", "[data][text]") {
  WordTokenizer tok(vocab({"a", "b", "c", "d", "e", "f"}));
  const std::string text = "a b c d e f";
  TextEncodingOptions o;
  o.max_length = 5;  // [CLS] + 4 of the 6 words
  o.tail_length = 2;
  const auto cut = encode_text(tok, text, o);
  REQUIRE(cut.tokens.size() == 5);
  CHECK(cut.original_tokens == 6);
  std::string kept;
  for (size_t i = 1; i < cut.tokens.size(); ++i)
    kept += text.substr(cut.tokens[i].begin, cut.tokens[i].end - cut.tokens[i].begin);
  CHECK(kept == "abef");  // head "a b", tail "e f", offsets still into the original text
  CHECK(cut.tokens[3].begin == 8);
  o.tail_length = 4;  // tail only
  CHECK(encode_text(tok, text, o).tokens[1].id == tok.id_of("c"));
  o.max_length = 64;  // a text that fits is kept whole, whatever the tail
  CHECK(encode_text(tok, text, o).tokens.size() == 7);
  o.tail_length = 64;
  CHECK_THROWS_WITH(encode_text(tok, text, o), Catch::Contains("tail_length must be in [0, max_length)"));
}

TEST_CASE("encode_text (sentences): splits at . ! ? and blank lines, with limits", "[data][text]") {
  WordTokenizer tok(vocab({"a", "b", "c", "d"}));
  TextEncodingOptions o;
  o.layout = TextLayout::sentences;
  o.max_sentences = 10;
  o.max_sentence_length = 10;
  auto e = encode_text(tok, "a b. c d c!\na b\n\nd? c", o);
  CHECK(e.sentence_lengths == std::vector<int64_t>{3, 4, 2, 2, 1});  // "a b ." "c d c !" "a b" "d ?" "c"
  o.max_sentences = 2;
  o.max_sentence_length = 2;
  e = encode_text(tok, "a b. c d c!\na b\n\nd? c", o);
  CHECK(e.sentence_lengths == std::vector<int64_t>{2, 2});
  REQUIRE(e.tokens.size() == 4);
  CHECK(e.tokens[2].id == tok.id_of("c"));
  CHECK(encode_text(tok, "   ", o).sentence_lengths.empty());
  o.max_sentences = 10;
  o.max_sentence_length = 20;
  // Punctuation inside a URL or number, and runs of it, do not split.
  CHECK(encode_text(tok, "a www.b.c/d.html b 3.5 c... d?! a", o).sentence_lengths == std::vector<int64_t>{18, 3, 1});
}

TEST_CASE("mask_tokens: 15% chosen, 80/10/10, only real ordinary tokens", "[data][text]") {
  const int64_t B = 200, L = 100, V = 1000;
  auto ids = torch::randint(SpecialTokens::count, V, {B, L}, torch::kLong);
  ids.index_put_({torch::indexing::Slice(), 0}, SpecialTokens::cls);
  auto valid = torch::ones({B, L}, torch::kBool);
  valid.index_put_({torch::indexing::Slice(0, B / 2), torch::indexing::Slice(L / 2)}, false);  // padding
  ids.masked_fill_(valid.logical_not(), SpecialTokens::pad);
  MlmMaskingOptions o;
  o.vocab_size = V;
  auto m = mask_tokens(ids, valid, o, 42);
  const double candidates = valid.sum().item<double>() - B;  // minus [CLS]
  const double chosen = m.positions.sum().item<double>();
  CHECK(chosen / candidates == Approx(0.15).margin(0.01));
  CHECK(m.targets.size(0) == static_cast<int64_t>(chosen));
  CHECK(m.targets.equal(ids.index({m.positions})));
  const bool on_special = (m.positions & (valid.logical_not() | ids.lt(SpecialTokens::count))).any().item<bool>();
  CHECK_FALSE(on_special);
  auto corrupted = m.inputs.index({m.positions});
  const double masked = corrupted.eq(SpecialTokens::mask).sum().item<double>();
  const double same = corrupted.eq(m.targets).sum().item<double>();
  CHECK(masked / chosen == Approx(0.8).margin(0.02));
  CHECK(same / chosen == Approx(0.1).margin(0.02));  // unchanged (a random pick equal to the original is rare)
  CHECK((chosen - masked - same) / chosen == Approx(0.1).margin(0.02));
  const bool random_in_range = corrupted.ge(SpecialTokens::count).logical_or(corrupted.eq(SpecialTokens::mask)).all().item<bool>();
  CHECK(random_in_range);
  CHECK(m.inputs.index({m.positions.logical_not()}).equal(ids.index({m.positions.logical_not()})));
  CHECK(mask_tokens(ids, valid, o, 42).inputs.equal(m.inputs));
  CHECK_FALSE(mask_tokens(ids, valid, o, 43).inputs.equal(m.inputs));
  // At least one position when any token qualifies.
  auto one = mask_tokens(torch::tensor({{2, 7}}, torch::kLong), torch::ones({1, 2}, torch::kBool), o, 1);
  CHECK(one.targets.size(0) == 1);
  o.vocab_size = 5;
  CHECK_THROWS(mask_tokens(ids, valid, o, 1));
}

TEST_CASE("TextBatchSource pads to the longest text and covers every example once", "[data][text]") {
  std::vector<EncodedText> texts;
  std::vector<int64_t> labels;
  for (int i = 0; i < 23; ++i) {
    EncodedText t;
    for (int j = 0; j <= i % 7; ++j) t.tokens.push_back({5 + i, 0, 0});
    texts.push_back(t);
    labels.push_back(i % 3);
  }
  TextBatchOptions o;
  o.batch_size = 5;
  o.shuffle = true;
  o.bucket_by_length = true;
  TextBatchSource source(texts, labels, o);
  CHECK(source.batches() == 5);
  std::multiset<int64_t> seen;
  auto stream = source.epoch(1, 1);
  while (auto b = stream->next()) {
    const auto lengths = b->mask.sum(1);
    CHECK(lengths.max().item<int64_t>() == b->inputs.size(1));
    for (int64_t r = 0; r < b->examples(); ++r) {
      const int64_t first = b->inputs[r][0].item<int64_t>();
      seen.insert(first - 5);
      CHECK(b->targets[r].item<int64_t>() == (first - 5) % 3);
      CHECK(lengths[r].item<int64_t>() == (first - 5) % 7 + 1);
      const bool pads_are_zero = b->inputs[r].index({b->mask[r].logical_not()}).eq(0).all().item<bool>();
      CHECK(pads_are_zero);
    }
  }
  CHECK(seen.size() == 23);
  CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == 23);
  auto a = source.epoch(1, 2)->next(), again = source.epoch(1, 2)->next();
  CHECK(a->inputs.equal(again->inputs));
  CHECK_THROWS(TextBatchSource(texts, {1, 2}, o));
}

TEST_CASE("TextBatchSource token dropout: [MASK] at the given rate, real ordinary tokens only, new each epoch",
          "[data][text]") {
  std::vector<EncodedText> texts;
  std::vector<int64_t> labels;
  for (int i = 0; i < 40; ++i) {
    EncodedText t;
    t.tokens.push_back({SpecialTokens::cls, 0, 0});
    for (int j = 0; j < 50 + i; ++j) t.tokens.push_back({10 + (i + j) % 90, 0, 0});
    texts.push_back(t);
    labels.push_back(i % 2);
  }
  TextBatchOptions o;
  o.batch_size = 8;
  o.shuffle = true;
  o.token_dropout = 0.2;
  TextBatchSource source(texts, labels, o);
  int64_t real = 0, masked = 0;
  auto stream = source.epoch(3, 1);
  while (auto b = stream->next()) {
    const auto is_mask = b->inputs.eq(SpecialTokens::mask);
    CHECK(b->inputs.select(1, 0).eq(SpecialTokens::cls).all().item<bool>());  // [CLS] is never dropped
    CHECK(is_mask.logical_and(b->mask.logical_not()).sum().item<int64_t>() == 0);  // nor padding
    const auto kept = b->inputs.index({b->mask.logical_and(is_mask.logical_not())});
    CHECK(kept.ge(10).logical_or(kept.eq(SpecialTokens::cls)).all().item<bool>());  // the rest unchanged in kind
    real += b->mask.sum().item<int64_t>() - b->examples();
    masked += is_mask.sum().item<int64_t>();
    const auto targets = b->targets;  // labels untouched
    for (int64_t r = 0; r < b->examples(); ++r) {
      const int64_t length = b->mask[r].sum().item<int64_t>() - 1;
      CHECK(targets[r].item<int64_t>() == (length - 50) % 2);
    }
  }
  CHECK(real == (40 * 50 + 39 * 40 / 2));
  CHECK(static_cast<double>(masked) / static_cast<double>(real) == Approx(0.2).margin(0.02));
  auto first = source.epoch(3, 1)->next(), again = source.epoch(3, 1)->next(), other = source.epoch(3, 2)->next();
  CHECK(first->inputs.equal(again->inputs));
  const bool same_as_next_epoch = first->inputs.sizes() == other->inputs.sizes() && first->inputs.equal(other->inputs);
  CHECK_FALSE(same_as_next_epoch);

  o.token_dropout = 0;  // off: no [MASK] at all
  TextBatchSource plain(texts, labels, o);
  auto s2 = plain.epoch(3, 1);
  while (auto b = s2->next()) CHECK(b->inputs.eq(SpecialTokens::mask).sum().item<int64_t>() == 0);
  o.token_dropout = 1.0;
  CHECK_THROWS_WITH(TextBatchSource(texts, labels, o), Catch::Contains("token dropout must be in [0, 1)"));
}
