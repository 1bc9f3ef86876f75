#pragma once
// Shared by the libFuzzer targets (tests/fuzz/README.md). A parser may reject
// its input only with focus::Error, the exception whose message the apps show
// to users; any other exception escaping it (a JSON library error, a
// std::out_of_range, a LibTorch error) is a finding, and so is a broken
// invariant. Both abort, so libFuzzer saves the input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "focus/util/error.h"

namespace focus::fuzz {

/// Runs `body`; returns true when it finished, false when it threw focus::Error.
template <class Body>
bool accepts(Body&& body) {
  try {
    body();
    return true;
  } catch (const focus::Error&) {
    return false;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finding: an exception other than focus::Error escaped: %s\n", e.what());
    std::abort();
  }
}

/// Aborts with `what` unless `ok`.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "finding: invariant broken: %s\n", what);
    std::abort();
  }
}

inline std::string_view bytes_of(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Splits `input` at the first occurrence of `separator`: (before, after);
/// (input, "") when there is none.
inline std::pair<std::string_view, std::string_view> split_once(std::string_view input, std::string_view separator) {
  const auto at = input.find(separator);
  if (at == std::string_view::npos) return {input, {}};
  return {input.substr(0, at), input.substr(at + separator.size())};
}

}  // namespace focus::fuzz
