#pragma once
// Small string helpers shared by error messages.
#include <string>
#include <vector>

namespace focus::util {

/// The items separated by `separator`, e.g. "a, b, c".
inline std::string join(const std::vector<std::string>& items, const std::string& separator = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? separator : std::string()) + items[i];
  return out;
}

}  // namespace focus::util
