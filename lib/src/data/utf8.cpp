#include "focus/data/utf8.h"

namespace focus::data {

namespace {

// What starts at one position of the input: a well-formed code point of
// `length` bytes, or an ill-formed subsequence of `length` bytes (its maximal
// subpart, at least one byte).
struct Sequence {
  bool valid;
  size_t length;
};

// The length a lead byte announces (0 for a byte that never starts a
// sequence) and the range allowed for the byte after it, which is where
// overlongs, surrogates and code points above U+10FFFF are excluded.
struct LeadByte {
  size_t length;
  unsigned char second_min;
  unsigned char second_max;
};

LeadByte classify_lead(unsigned char b) {
  if (b <= 0x7F) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};  // E0 80..9F would be overlong
  if (b == 0xED) return {3, 0x80, 0x9F};  // ED A0..BF would be a surrogate
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};  // F0 80..8F would be overlong
  if (b == 0xF4) return {4, 0x80, 0x8F};  // F4 90.. would exceed U+10FFFF
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  return {0, 0, 0};  // continuation bytes, C0, C1, F5..FF
}

Sequence sequence_at(std::string_view s, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const LeadByte lead = classify_lead(byte(pos));
  if (lead.length == 0) return {false, 1};
  for (size_t k = 1; k < lead.length; ++k) {
    if (pos + k >= s.size()) return {false, k};  // truncated at the end of the input
    const unsigned char b = byte(pos + k);
    const unsigned char lo = k == 1 ? lead.second_min : 0x80;
    const unsigned char hi = k == 1 ? lead.second_max : 0xBF;
    if (b < lo || b > hi) return {false, k};
  }
  return {true, lead.length};
}

// The end of the run of ASCII bytes starting at `pos` (the common case, skipped fast).
size_t skip_ascii(std::string_view s, size_t pos) {
  while (pos < s.size() && static_cast<unsigned char>(s[pos]) < 0x80) ++pos;
  return pos;
}

}  // namespace

std::optional<size_t> find_invalid_utf8(std::string_view s) {
  size_t pos = skip_ascii(s, 0);
  while (pos < s.size()) {
    const Sequence seq = sequence_at(s, pos);
    if (!seq.valid) return pos;
    pos = skip_ascii(s, pos + seq.length);
  }
  return std::nullopt;
}

std::string repair_utf8(std::string_view s, int64_t* replaced) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size());
  int64_t count = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t ascii_end = skip_ascii(s, pos);
    out.append(s.substr(pos, ascii_end - pos));
    pos = ascii_end;
    if (pos == s.size()) break;
    const Sequence seq = sequence_at(s, pos);
    if (seq.valid) {
      out.append(s.substr(pos, seq.length));
    } else {
      out.append(kReplacement);
      ++count;
    }
    pos += seq.length;
  }
  if (replaced) *replaced = count;
  return out;
}

}  // namespace focus::data
