#include "focus/util/json_reader.h"

#include <limits>
#include <sstream>

#include "focus/util/atomic_file.h"

namespace focus::util {

std::string json_type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "boolean " + v.dump();
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer " + v.dump();
    case Json::value_t::number_float: return "number " + v.dump();
    case Json::value_t::string: return "string " + v.dump();
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    default: return "a value of unsupported type";
  }
}

namespace {
[[noreturn]] void mismatch(const std::string& where, const char* expected, const Json& v) {
  throw Error(where + ": expected " + expected + ", found " + json_type_name(v));
}
}  // namespace

void convert(const Json& v, const std::string& where, bool& out) {
  if (!v.is_boolean()) mismatch(where, "true or false", v);
  out = v.get<bool>();
}
void convert(const Json& v, const std::string& where, int& out) {
  if (!v.is_number_integer()) mismatch(where, "an integer", v);
  const int64_t x = v.get<int64_t>();
  if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max())
    mismatch(where, "an integer in 32-bit range", v);
  out = static_cast<int>(x);
}
void convert(const Json& v, const std::string& where, int64_t& out) {
  if (!v.is_number_integer()) mismatch(where, "an integer", v);
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    mismatch(where, "an integer in 64-bit range", v);
  out = v.get<int64_t>();
}
void convert(const Json& v, const std::string& where, uint64_t& out) {
  if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0))
    mismatch(where, "a non-negative integer", v);
  out = v.get<uint64_t>();
}
void convert(const Json& v, const std::string& where, double& out) {
  if (!v.is_number()) mismatch(where, "a number", v);
  out = v.get<double>();
}
void convert(const Json& v, const std::string& where, std::string& out) {
  if (!v.is_string()) mismatch(where, "a string", v);
  out = v.get<std::string>();
}
void convert(const Json& v, const std::string&, Json& out) { out = v; }

ObjectReader::ObjectReader(const Json& object, std::string context)
    : object_(object), context_(std::move(context)) {
  if (!object_.is_object()) throw Error(context_ + ": expected an object, found " + json_type_name(object_));
}

const Json* ObjectReader::find(const std::string& key) {
  auto it = object_.find(key);
  if (it == object_.end()) return nullptr;
  used_.insert(key);
  return &*it;
}

std::string ObjectReader::where(const std::string& key) const { return context_ + "." + key; }

ObjectReader& ObjectReader::read_choice(const std::string& key, std::string& out,
                                        const std::vector<std::string>& allowed) {
  read(key, out);
  for (const auto& a : allowed)
    if (a == out) return *this;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw Error(where(key) + ": expected one of {" + list + "}, found \"" + out + "\"");
}

void ObjectReader::finish() const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (used_.count(it.key())) continue;
    std::string known;
    for (const auto& k : used_) known += (known.empty() ? "" : ", ") + k;
    throw Error(context_ + ": unknown key '" + it.key() + "'" +
                (known.empty() ? std::string() : " (keys read here: " + known + ")"));
  }
}

void apply_override(Json& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error("override '" + assignment + "': expected key.path=value");
  try {
    (void)Json(assignment).dump();  // keys and string values must be UTF-8, as in a JSON file
  } catch (const Json::type_error&) {
    throw Error("override '" + Json(assignment).dump(-1, ' ', false, Json::error_handler_t::replace) +
                "': not valid UTF-8");
  }
  const std::string path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;

  Json* node = &root;
  std::string walked;
  size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (key.empty()) throw Error("override '" + assignment + "': empty key in '" + path + "'");
    if (!node->is_object())
      throw Error("override '" + assignment + "': '" + walked + "' is not an object");
    walked += (walked.empty() ? "" : ".") + key;
    if (dot == std::string::npos) {
      (*node)[key] = value;
      return;
    }
    if (!node->contains(key)) {
      throw Error("override '" + assignment + "': no section '" + walked + "' in the recipe");
    }
    node = &(*node)[key];
    start = dot + 1;
  }
}

Json parse_json_text(const std::string& text, const std::string& origin) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    // Turn the byte offset into line:column.
    size_t line = 1, col = 1;
    for (size_t i = 0; i < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') { ++line; col = 1; } else { ++col; }
    }
    std::string what = e.what();
    const auto pos = what.find("parse error");
    throw Error(origin + ":" + std::to_string(line) + ":" + std::to_string(col) +
                ": invalid JSON (" + (pos == std::string::npos ? what : what.substr(pos)) + ")");
  } catch (const Json::exception& e) {  // e.g. out_of_range: a number too large for a double (found by tests/fuzz)
    throw Error(origin + ": invalid JSON (" + e.what() + ")");
  }
}

Json parse_json_file(const std::string& path) { return parse_json_text(read_file(path), path); }

}  // namespace focus::util
