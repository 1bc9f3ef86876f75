#pragma once
// UTF-8 validation and repair for text datasets. A byte string is valid UTF-8
// when it is a sequence of well-formed code points as defined by the Unicode
// standard (Table 3-7): no overlong encodings, no surrogates (U+D800..U+DFFF),
// nothing above U+10FFFF and no sequence cut short.
//
// Repair follows the Unicode "maximal subpart" practice (also the WHATWG
// decoder's): each maximal prefix of a would-be sequence that cannot be
// completed becomes one U+FFFD. So "\xE2\x82" + "A" gives U+FFFD "A", while
// "\xC0\x80" (an overlong NUL; 0xC0 can never start a sequence) gives two.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace focus::data {

/// The byte offset where the first ill-formed sequence starts in `s`, or
/// nullopt when `s` is valid UTF-8.
std::optional<size_t> find_invalid_utf8(std::string_view s);

/// `s` with each maximal ill-formed subsequence replaced by U+FFFD (EF BF BD).
/// Valid input comes back unchanged. When `replaced` is given, it receives the
/// number of replacements made.
std::string repair_utf8(std::string_view s, int64_t* replaced = nullptr);

}  // namespace focus::data
