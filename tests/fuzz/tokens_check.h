#pragma once
// The contract every tokenizer keeps (focus/data/tokenizer.h), checked on
// whatever the fuzzer feeds it.
#include <string_view>
#include <vector>

#include "focus/data/tokenizer.h"
#include "fuzz_common.h"

namespace focus::fuzz {

inline void check_tokens(const data::Tokenizer& tokenizer, std::string_view text) {
  std::vector<data::Token> tokens;
  require(accepts([&] { tokens = tokenizer.tokenize(text); }), "any text can be tokenized");
  int64_t previous_end = 0;
  for (const auto& t : tokens) {
    require(t.id >= data::SpecialTokens::unk && t.id < tokenizer.vocab_size(), "ids are [UNK] or vocabulary ids");
    require(t.id != data::SpecialTokens::cls && t.id != data::SpecialTokens::sep && t.id != data::SpecialTokens::mask,
            "a text never produces [CLS], [SEP] or [MASK]");
    require(0 <= t.begin && t.begin <= t.end && t.end <= static_cast<int64_t>(text.size()), "spans lie inside the text");
    require(t.begin >= previous_end, "spans are in order and do not overlap");
    previous_end = t.end;
    std::string shown;
    require(accepts([&] { shown = tokenizer.token_text(t.id); }), "every emitted id has a text");
  }
}

}  // namespace focus::fuzz
