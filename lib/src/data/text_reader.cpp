#include "focus/data/text_reader.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "focus/data/utf8.h"
#include "focus/util/atomic_file.h"
#include "focus/util/error.h"
#include "focus/util/strings.h"
#include "focus/util/json_reader.h"
#include "focus/util/log.h"

namespace focus::data {

namespace {

using util::Json;

// "origin:line: ", the prefix of every message about a record.
std::string at(const std::string& origin, int64_t line) { return origin + ":" + std::to_string(line) + ": "; }

// ---- options and format --------------------------------------------------

void check_options(const TextReadOptions& options) {
  if (options.invalid_utf8 != "error" && options.invalid_utf8 != "repair")
    throw Error("text reader: invalid_utf8 must be \"error\" or \"repair\", found \"" + options.invalid_utf8 + "\"");
  if (options.text_field.empty()) throw Error("text reader: text_field must name a column or key, found \"\"");
}

std::string format_from_extension(const std::string& origin) {
  std::string ext = std::filesystem::path(origin).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".csv") return "csv";
  if (ext == ".tsv" || ext == ".tab") return "tsv";
  if (ext == ".jsonl" || ext == ".ndjson") return "jsonl";
  throw Error(origin + ": cannot tell the text format from the extension '" + ext +
              "': expected .csv, .tsv, .tab, .jsonl or .ndjson, or set the format to csv, tsv or jsonl");
}

std::string resolve_format(const std::string& format, const std::string& origin) {
  if (format == "auto") return format_from_extension(origin);
  if (format == "csv" || format == "tsv" || format == "jsonl") return format;
  throw Error(origin + ": unknown text format '" + format + "': expected auto, csv, tsv or jsonl");
}

std::string_view skip_bom(std::string_view content) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (content.substr(0, kBom.size()) == kBom) content.remove_prefix(kBom.size());
  return content;
}

// ---- UTF-8 policy ----------------------------------------------------------

// Applies options.invalid_utf8 to the values read from one source, and counts
// the repairs so that a single warning can report them all.
class Utf8Policy {
 public:
  Utf8Policy(const std::string& origin, bool repair) : origin_(origin), repair_(repair) {}

  /// nullopt when `value` is valid; its repaired copy when repairing; throws
  /// otherwise. `what` names the value in the message ("field 'text'").
  std::optional<std::string> repaired(std::string_view value, const std::string& what, int64_t line) {
    const std::optional<size_t> bad = find_invalid_utf8(value);
    if (!bad) return std::nullopt;
    if (!repair_)
      throw Error(at(origin_, line) + "invalid UTF-8 at byte offset " + std::to_string(*bad) + " of " + what +
                  " (invalid_utf8 = \"repair\" replaces invalid bytes with U+FFFD)");
    int64_t count = 0;
    std::string fixed = repair_utf8(value, &count);
    replaced_ += count;
    return fixed;
  }

  void warn_if_repaired() const {
    if (replaced_ > 0)
      util::log()->warn("{}: replaced {} invalid UTF-8 sequence{} with U+FFFD", origin_, replaced_,
                        replaced_ == 1 ? "" : "s");
  }

 private:
  const std::string& origin_;
  bool repair_;
  int64_t replaced_ = 0;
};

// ---- CSV / TSV -------------------------------------------------------------

struct DelimitedRow {
  std::vector<std::string> fields;
  int64_t line = 0;  // where the row starts
};

// Splits CSV or TSV text into rows of unquoted fields (rules in text_reader.h).
// Works on raw bytes: separators, quotes and line ends are ASCII, which never
// occur inside a multi-byte UTF-8 sequence.
class DelimitedParser {
 public:
  DelimitedParser(std::string_view text, char separator, const std::string& origin)
      : text_(text), separator_(separator), origin_(origin) {}

  /// Reads the next non-empty row; false at the end of the input.
  bool next(DelimitedRow& row) {
    while (at_line_end()) skip_line_end();
    if (pos_ >= text_.size()) return false;
    row.line = line_;
    row.fields.clear();
    while (true) {
      row.fields.push_back(pos_ < text_.size() && text_[pos_] == '"' ? read_quoted() : read_plain());
      if (pos_ < text_.size() && text_[pos_] == separator_) {
        ++pos_;
        continue;
      }
      skip_line_end();
      return true;
    }
  }

 private:
  // True at "\n", "\r\n" or a "\r" that ends the input.
  bool at_line_end() const {
    if (pos_ >= text_.size()) return false;
    if (text_[pos_] == '\n') return true;
    return text_[pos_] == '\r' && (pos_ + 1 == text_.size() || text_[pos_ + 1] == '\n');
  }

  void skip_line_end() {
    if (pos_ < text_.size() && text_[pos_] == '\r') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '\n') {
      ++pos_;
      ++line_;
    }
  }

  std::string read_plain() {
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != separator_ && !at_line_end()) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  std::string read_quoted() {
    const int64_t start_line = line_;
    std::string value;
    ++pos_;  // the opening quote
    while (true) {
      const size_t quote = text_.find('"', pos_);
      if (quote == std::string_view::npos)
        throw Error(at(origin_, start_line) + "unterminated quoted field: the quote opened on line " +
                    std::to_string(start_line) + " is never closed");
      const std::string_view chunk = text_.substr(pos_, quote - pos_);
      line_ += std::count(chunk.begin(), chunk.end(), '\n');
      value.append(chunk);
      pos_ = quote + 1;
      if (pos_ < text_.size() && text_[pos_] == '"') {  // "" is an escaped quote
        value.push_back('"');
        ++pos_;
        continue;
      }
      break;
    }
    check_after_closing_quote();
    return value;
  }

  void check_after_closing_quote() const {
    if (pos_ >= text_.size() || text_[pos_] == separator_ || at_line_end()) return;
    throw Error(at(origin_, line_) + "unexpected character '" + std::string(1, text_[pos_]) +
                "' after a closing quote: expected a separator or the end of the line (write \"\" for a quote "
                "inside a quoted field)");
  }

  std::string_view text_;
  char separator_;
  const std::string& origin_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

// Where the configured fields are in a row.
struct Columns {
  size_t count = 0;  // fields per row
  size_t text = 0;
  std::optional<size_t> label;
  std::optional<size_t> group;
};

std::vector<std::string> index_names(size_t count) {
  std::vector<std::string> names;
  for (size_t i = 0; i < count; ++i) names.push_back(std::to_string(i));
  return names;
}

using util::join;

size_t find_column(const std::vector<std::string>& names, const std::string& wanted, const char* option,
                   const std::string& where, bool header) {
  const auto it = std::find(names.begin(), names.end(), wanted);
  if (it == names.end())
    throw Error(where + "no column '" + wanted + "' (" + option + "); available columns: " + join(names) +
                (header ? "" : " (without a header, columns are named by their 0-based index)"));
  if (std::find(it + 1, names.end(), wanted) != names.end())
    throw Error(where + "column '" + wanted + "' (" + option + ") appears more than once in the header");
  return static_cast<size_t>(it - names.begin());
}

Columns find_columns(const std::vector<std::string>& names, const TextReadOptions& options, const std::string& where) {
  Columns columns;
  columns.count = names.size();
  columns.text = find_column(names, options.text_field, "text_field", where, options.header);
  if (!options.label_field.empty())
    columns.label = find_column(names, options.label_field, "label_field", where, options.header);
  if (!options.group_field.empty())
    columns.group = find_column(names, options.group_field, "group_field", where, options.header);
  return columns;
}

// ---- building examples -----------------------------------------------------

// Labels and groups identify something, so an empty one means it is missing.
void require_non_empty(const std::string& value, const char* role, const std::string& name,
                       const std::string& origin, int64_t line) {
  if (value.empty()) throw Error(at(origin, line) + "missing " + role + ": field '" + name + "' is empty");
}

class ExampleBuilder {
 public:
  ExampleBuilder(const std::string& origin, const TextReadOptions& options, Utf8Policy& utf8)
      : origin_(origin), options_(options), utf8_(utf8) {}

  TextExample from_row(const DelimitedRow& row, const Columns& columns) {
    if (row.fields.size() != columns.count)
      throw Error(at(origin_, row.line) + "expected " + std::to_string(columns.count) + " fields, found " +
                  std::to_string(row.fields.size()));
    TextExample example;
    example.line = row.line;
    example.text = valid(row.fields[columns.text], options_.text_field, row.line);
    if (columns.label) example.label = valid(row.fields[*columns.label], options_.label_field, row.line);
    if (columns.group) example.group = valid(row.fields[*columns.group], options_.group_field, row.line);
    return checked(std::move(example));
  }

  TextExample from_json(const Json& record, int64_t line) {
    const std::string where = at(origin_, line);
    if (!record.is_object()) throw Error(where + "expected a JSON object, found " + util::json_type_name(record));
    TextExample example;
    example.line = line;
    const Json& text = require_key(record, options_.text_field, "text_field", where);
    if (!text.is_string())
      throw Error(where + "key '" + options_.text_field + "' must be a string, found " + util::json_type_name(text));
    example.text = text.get<std::string>();
    if (!options_.label_field.empty())
      example.label = name_value(require_key(record, options_.label_field, "label_field", where),
                                 options_.label_field, where);
    if (!options_.group_field.empty())
      example.group = name_value(require_key(record, options_.group_field, "group_field", where),
                                 options_.group_field, where);
    return checked(std::move(example));
  }

 private:
  std::string valid(const std::string& value, const std::string& name, int64_t line) {
    if (auto fixed = utf8_.repaired(value, "field '" + name + "'", line)) return std::move(*fixed);
    return value;
  }

  TextExample checked(TextExample example) const {
    if (!options_.label_field.empty())
      require_non_empty(example.label, "label", options_.label_field, origin_, example.line);
    if (!options_.group_field.empty())
      require_non_empty(example.group, "group", options_.group_field, origin_, example.line);
    return example;
  }

  static const Json& require_key(const Json& record, const std::string& key, const char* option,
                                 const std::string& where) {
    const auto it = record.find(key);
    if (it == record.end()) throw Error(where + "missing key '" + key + "' (" + option + ")");
    return *it;
  }

  // A label or group: a string, or an integer taken as its decimal text.
  static std::string name_value(const Json& value, const std::string& key, const std::string& where) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_number_unsigned()) return std::to_string(value.get<uint64_t>());
    if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
    throw Error(where + "key '" + key + "' must be a string or an integer, found " + util::json_type_name(value));
  }

  const std::string& origin_;
  const TextReadOptions& options_;
  Utf8Policy& utf8_;
};

std::vector<TextExample> parse_delimited(std::string_view content, char separator, const std::string& origin,
                                         const TextReadOptions& options, ExampleBuilder& builder) {
  DelimitedParser parser(content, separator, origin);
  DelimitedRow row;
  if (!parser.next(row)) return {};
  const std::vector<std::string> names = options.header ? row.fields : index_names(row.fields.size());
  const Columns columns = find_columns(names, options, at(origin, row.line));
  std::vector<TextExample> examples;
  if (!options.header) examples.push_back(builder.from_row(row, columns));
  while (parser.next(row)) examples.push_back(builder.from_row(row, columns));
  return examples;
}

// ---- JSON Lines ------------------------------------------------------------

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

Json parse_json_line(std::string_view text, const std::string& origin, int64_t line) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    const std::string what = e.what();
    const size_t detail = what.find("column ");  // drop the "[json.exception...] parse error at line 1, " prefix
    throw Error(at(origin, line) + "invalid JSON: " + (detail == std::string::npos ? what : what.substr(detail)));
  } catch (const Json::exception& e) {  // e.g. out_of_range: a number too large for a double (found by tests/fuzz)
    throw Error(at(origin, line) + "invalid JSON: " + e.what());
  }
}

std::vector<TextExample> parse_jsonl(std::string_view content, const std::string& origin, Utf8Policy& utf8,
                                     ExampleBuilder& builder) {
  std::vector<TextExample> examples;
  int64_t line = 0;
  size_t pos = 0;
  while (pos < content.size()) {
    const size_t end = std::min(content.find('\n', pos), content.size());
    const std::string_view raw = content.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (is_blank(raw)) continue;
    // nlohmann::json rejects invalid UTF-8, so the policy applies to the raw line first.
    const std::optional<std::string> fixed = utf8.repaired(raw, "the line", line);
    examples.push_back(builder.from_json(parse_json_line(fixed ? *fixed : raw, origin, line), line));
  }
  return examples;
}

}  // namespace

std::vector<TextExample> parse_text_data(std::string_view content, const std::string& origin,
                                         const std::string& format, const TextReadOptions& options) {
  check_options(options);
  const std::string resolved = resolve_format(format, origin);
  content = skip_bom(content);
  Utf8Policy utf8(origin, options.invalid_utf8 == "repair");
  ExampleBuilder builder(origin, options, utf8);
  std::vector<TextExample> examples =
      resolved == "jsonl" ? parse_jsonl(content, origin, utf8, builder)
                          : parse_delimited(content, resolved == "csv" ? ',' : '\t', origin, options, builder);
  utf8.warn_if_repaired();
  return examples;
}

std::vector<TextExample> read_text_file(const std::string& path, const TextReadOptions& options) {
  check_options(options);
  resolve_format(options.format, path);  // fail on a bad format before reading a large file
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error("cannot read " + path + ": it is a directory, not a file");
  return parse_text_data(util::read_file(path), path, options.format, options);
}

}  // namespace focus::data
