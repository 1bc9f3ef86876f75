// CSV, TSV and JSON Lines text datasets. The first byte picks the format and
// the reader options; the rest is the file.
#include "focus/data/text_reader.h"
#include "focus/data/utf8.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace focus;
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  static const char* const formats[] = {"csv", "tsv", "jsonl", "auto"};
  data::TextReadOptions options;
  options.header = (flags & 4) == 0;
  if (!options.header) options.text_field = "0";
  options.label_field = (flags & 8) ? "" : (options.header ? "label" : "1");
  options.group_field = (flags & 16) ? (options.header ? "group" : "2") : "";
  options.invalid_utf8 = (flags & 32) ? "repair" : "error";
  const std::string format = formats[flags & 3];
  std::vector<data::TextExample> examples;
  if (fuzz::accepts([&] {
        examples = data::parse_text_data(fuzz::bytes_of(data + 1, size - 1), "fuzz.csv", format, options);
      })) {
    int64_t previous_line = 0;
    for (const auto& e : examples) {
      fuzz::require(!data::find_invalid_utf8(e.text) && !data::find_invalid_utf8(e.label) &&
                        !data::find_invalid_utf8(e.group),
                    "every returned field is valid UTF-8");
      fuzz::require(e.line > previous_line, "records come in file order with increasing line numbers");
      previous_line = e.line;
      if (!options.label_field.empty()) fuzz::require(!e.label.empty(), "a configured label is never empty");
      if (!options.group_field.empty()) fuzz::require(!e.group.empty(), "a configured group is never empty");
    }
  }
  return 0;
}
