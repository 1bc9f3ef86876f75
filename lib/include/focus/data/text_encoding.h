#pragma once
// From a text to the token sequence a model reads, with the truncation policy:
//  - flat layout: "[CLS] t1 t2 ...", cut to max_length tokens ([CLS] included);
//    a longer text keeps its first tokens, or with tail_length > 0 its first
//    max_length - 1 - tail_length and its last tail_length tokens ("head + tail",
//    Sun et al. 2019: the end of a long document often says what it is);
//  - sentence layout (hierarchical models): the tokens split into sentences
//    (after . ! or ? followed by whitespace, and at blank lines), each sentence cut
//    to max_sentence_length tokens, at most max_sentences sentences.
// Every token keeps its byte offsets into the original text; [CLS] has the
// empty range [0, 0).
#include <string_view>
#include <vector>

#include "focus/data/tokenizer.h"

namespace focus::data {

enum class TextLayout { flat, sentences };

struct TextEncodingOptions {
  TextLayout layout = TextLayout::flat;
  int64_t max_length = 256;          ///< flat: tokens per text, [CLS] included (>= 2)
  int64_t tail_length = 0;           ///< flat: of a longer text, keep this many of its last tokens (< max_length)
  int64_t max_sentences = 16;        ///< sentences: sentences per text
  int64_t max_sentence_length = 32;  ///< sentences: tokens per sentence
};

struct EncodedText {
  std::vector<Token> tokens;                ///< flat: [CLS] first; sentences: all sentences, in order
  std::vector<int64_t> sentence_lengths;    ///< sentences: tokens of each sentence (sums to tokens.size())
  int64_t original_tokens = 0;              ///< tokens before truncation
};

EncodedText encode_text(const Tokenizer& tokenizer, std::string_view text, const TextEncodingOptions& options);

}  // namespace focus::data
