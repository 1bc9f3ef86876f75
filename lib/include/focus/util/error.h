#pragma once
// The one exception type the library throws for bad input or bad state.
// Messages say where (file, line or key), what was expected and what was found.
#include <stdexcept>
#include <string>

namespace focus {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace focus
