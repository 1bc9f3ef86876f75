#pragma once
// Reader for text datasets: one example (a text, optionally a label and a
// group) per CSV row, TSV row or JSON Lines record.
//
// CSV follows RFC 4180: comma-separated; a field that starts with a double
// quote is quoted, may hold separators, quotes (written "") and line breaks,
// and must be followed by a separator or the end of the line. A quote inside
// an unquoted field is kept as an ordinary character. LF and CRLF line ends
// are accepted, a UTF-8 byte order mark at the start is skipped and empty
// lines are skipped (so in a one-column file an empty text must be written
// ""). Every row must have as many fields as the first row.
//
// TSV uses the same rules with a tab separator: a field that starts with a
// double quote is read as a quoted field, so quoted TSV (as written by
// spreadsheets and Python's csv module) is accepted.
//
// JSON Lines holds one JSON object per line; empty lines are skipped. The
// text field must be a string; label and group may be strings or integers
// (integers become their decimal text).
//
// Labels and groups must be present and non-empty in every record when their
// field is configured; texts may be empty. Returned fields are always valid
// UTF-8: invalid bytes are an error or are replaced by U+FFFD, as configured.
// Only the configured fields are checked; other columns are not inspected
// (in JSON Lines the whole line must be valid UTF-8, as JSON requires).
//
// Errors are focus::Error with messages of the form "origin:line: what".
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace focus::data {

struct TextExample {
  std::string text;   ///< the text field (valid UTF-8, possibly empty)
  std::string label;  ///< the label field as a string ("" when the reader has no label field)
  std::string group;  ///< the group field ("" when no group field is configured)
  int64_t line = 0;   ///< 1-based line in the file where the record starts
};

struct TextReadOptions {
  std::string format = "auto";        ///< auto (by extension: .csv, .tsv/.tab, .jsonl/.ndjson), csv, tsv, jsonl
  std::string text_field = "text";    ///< column name (csv/tsv with header, or index without) or JSON key
  std::string label_field = "label";  ///< empty = unlabeled data (e.g. for language-model pretraining)
  std::string group_field;            ///< empty = none; otherwise required in every record
  bool header = true;  ///< csv/tsv: the first row names the columns; when false, fields are named "0", "1", ...
  std::string invalid_utf8 = "error";  ///< "error": throw naming file:line; "repair": replace with U+FFFD, warn once
};

/// Reads the examples of a CSV, TSV or JSON Lines file, in file order. A file
/// without records gives an empty vector. Throws focus::Error naming the file
/// (and line) for an unreadable file, malformed data or invalid options.
std::vector<TextExample> read_text_file(const std::string& path, const TextReadOptions& options);

/// Parses examples from memory. `format` replaces options.format; "auto"
/// picks the format from the extension of `origin`, which also names the
/// source in messages (used by read_text_file and by tests).
std::vector<TextExample> parse_text_data(std::string_view content, const std::string& origin,
                                         const std::string& format, const TextReadOptions& options);

}  // namespace focus::data
