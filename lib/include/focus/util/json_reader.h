#pragma once
// Strict reading of JSON objects into plain config structs: each key is read
// with a type check, and keys nobody read are reported as unknown. Errors name
// the context (file and key path), what was expected and what was found.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "focus/util/error.h"

namespace focus::util {

using Json = nlohmann::json;

/// A short, human-readable name for a JSON value's type ("integer", "string", ...).
std::string json_type_name(const Json& value);

/// Converters used by ObjectReader; each throws focus::Error naming `where`.
void convert(const Json& v, const std::string& where, bool& out);
void convert(const Json& v, const std::string& where, int& out);
void convert(const Json& v, const std::string& where, int64_t& out);
void convert(const Json& v, const std::string& where, uint64_t& out);
void convert(const Json& v, const std::string& where, double& out);
void convert(const Json& v, const std::string& where, std::string& out);
void convert(const Json& v, const std::string& where, Json& out);
template <class T>
void convert(const Json& v, const std::string& where, std::vector<T>& out) {
  if (!v.is_array()) throw Error(where + ": expected an array, found " + json_type_name(v));
  std::vector<T> result(v.size());
  for (size_t i = 0; i < v.size(); ++i) convert(v[i], where + "[" + std::to_string(i) + "]", result[i]);
  out = std::move(result);
}

class ObjectReader {
 public:
  /// `context` prefixes every message, e.g. "recipe models/a.json: train".
  ObjectReader(const Json& object, std::string context);

  /// Reads `key` into `out` if present (keeping the default otherwise).
  template <class T>
  ObjectReader& read(const std::string& key, T& out) {
    if (const Json* v = find(key)) convert(*v, where(key), out);
    return *this;
  }
  /// Like read, but the key must be present.
  template <class T>
  ObjectReader& require(const std::string& key, T& out) {
    const Json* v = find(key);
    if (!v) throw Error(context_ + ": missing required key '" + key + "'");
    convert(*v, where(key), out);
    return *this;
  }
  /// Reads `key` and checks it is one of `allowed`.
  ObjectReader& read_choice(const std::string& key, std::string& out,
                            const std::vector<std::string>& allowed);
  /// Returns the value at `key` (nullptr if absent) and marks it as read.
  const Json* find(const std::string& key);
  /// "context.key", the context for a nested reader.
  std::string where(const std::string& key) const;
  /// Throws if the object holds a key that was never read.
  void finish() const;

 private:
  const Json& object_;
  std::string context_;
  std::set<std::string> used_;
};

/// Applies "a.b.c=value" overrides to a JSON object. The value is parsed as
/// JSON when it is valid JSON, otherwise taken as a string. Intermediate
/// objects must exist; the last key is created if missing (the strict
/// readers then reject it if it is unknown).
void apply_override(Json& root, const std::string& assignment);

/// Parses a JSON file; parse errors name the file, line and column.
Json parse_json_file(const std::string& path);
/// Parses JSON text; `origin` names where it came from in error messages.
Json parse_json_text(const std::string& text, const std::string& origin);

}  // namespace focus::util
