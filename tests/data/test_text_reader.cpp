// UTF-8 checks and the CSV / TSV / JSON Lines text reader, on in-memory data
// and on files written by the test.
#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "focus/data/text_reader.h"
#include "focus/data/utf8.h"
#include "focus/util/error.h"
#include "focus/util/log.h"
#include "temp_dir.h"

using focus::data::find_invalid_utf8;
using focus::data::parse_text_data;
using focus::data::repair_utf8;
using focus::data::TextExample;
using focus::data::TextReadOptions;

namespace {
const std::string kFFFD = "\xEF\xBF\xBD";

void write(const std::filesystem::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

std::vector<TextExample> csv(const std::string& content, const TextReadOptions& o = {}) {
  return parse_text_data(content, "x.csv", "csv", o);
}
std::vector<TextExample> jsonl(const std::string& content, const TextReadOptions& o = {}) {
  return parse_text_data(content, "x.jsonl", "jsonl", o);
}

// Sends the "focus" logger's warnings (only) to a string while alive.
class CapturedLog {
 public:
  CapturedLog()
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_st>(out_)), saved_sinks_(logger_->sinks()),
        saved_level_(logger_->level()) {
    sink_->set_pattern("%l: %v");
    logger_->sinks() = {sink_};
    logger_->set_level(spdlog::level::warn);
  }
  ~CapturedLog() {
    logger_->sinks() = saved_sinks_;
    logger_->set_level(saved_level_);
  }
  std::string text() const { return out_.str(); }

 private:
  std::shared_ptr<spdlog::logger> logger_ = focus::util::log();
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_st> sink_;
  std::vector<spdlog::sink_ptr> saved_sinks_;
  spdlog::level::level_enum saved_level_;
};
}  // namespace

TEST_CASE("find_invalid_utf8 accepts well-formed code points", "[data]") {
  CHECK_FALSE(find_invalid_utf8(""));
  CHECK_FALSE(find_invalid_utf8("plain ascii"));
  CHECK_FALSE(find_invalid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E"));  // é € 𝄞
  CHECK_FALSE(find_invalid_utf8("\xED\x9F\xBF"));      // U+D7FF, just below the surrogates
  CHECK_FALSE(find_invalid_utf8("\xEE\x80\x80"));      // U+E000, just above them
  CHECK_FALSE(find_invalid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF, the last code point
}

TEST_CASE("find_invalid_utf8 rejects overlongs, surrogates, out-of-range and truncated sequences", "[data]") {
  CHECK(find_invalid_utf8("ab\xC0\x80") == std::optional<size_t>(2));          // overlong NUL
  CHECK(find_invalid_utf8("\xE0\x80\xAF") == std::optional<size_t>(0));        // overlong '/'
  CHECK(find_invalid_utf8("\xF0\x82\x82\xAC") == std::optional<size_t>(0));    // overlong €
  CHECK(find_invalid_utf8("\xC3\xA9\xED\xA0\x80") == std::optional<size_t>(2));  // surrogate U+D800
  CHECK(find_invalid_utf8("\xF4\x90\x80\x80") == std::optional<size_t>(0));    // U+110000
  CHECK(find_invalid_utf8("\xF5\x80\x80\x80") == std::optional<size_t>(0));
  CHECK(find_invalid_utf8("a\x80") == std::optional<size_t>(1));               // lone continuation
  CHECK(find_invalid_utf8("abc\xE2\x82") == std::optional<size_t>(3));         // truncated at the end
  CHECK(find_invalid_utf8("x\xF0\x9F\x98") == std::optional<size_t>(1));
  CHECK(find_invalid_utf8("\xE2\x82" "A") == std::optional<size_t>(0));        // cut short by ASCII
}

TEST_CASE("repair_utf8 replaces each maximal invalid subsequence with U+FFFD", "[data]") {
  int64_t n = -1;
  CHECK(repair_utf8("caf\xC3\xA9", &n) == "caf\xC3\xA9");
  CHECK(n == 0);
  CHECK(repair_utf8("a\xE2\x82" "b", &n) == "a" + kFFFD + "b");  // one truncated sequence, one U+FFFD
  CHECK(n == 1);
  CHECK(repair_utf8("\xC0\x80", &n) == kFFFD + kFFFD);  // C0 never starts a sequence
  CHECK(n == 2);
  CHECK(repair_utf8("\xED\xA0\x80z", &n) == kFFFD + kFFFD + kFFFD + "z");  // surrogate
  CHECK(n == 3);
  CHECK(repair_utf8("ok\xF0\x9F\x98", &n) == "ok" + kFFFD);  // truncated at the end
  CHECK(n == 1);
  CHECK(repair_utf8("\xFF\xC3\xA9\xFE") == kFFFD + "\xC3\xA9" + kFFFD);
  CHECK_FALSE(find_invalid_utf8(repair_utf8("\x80\xBF\xE0\x80\xF4\x90 mixed \xC3")));
}

TEST_CASE("CSV: quoted fields hold separators, quotes and line breaks; line is the record's first line",
          "[data]") {
  const std::string data =
      "text,label\n"
      "\"hello, world\",greeting\n"
      "\"she said \"\"hi\"\"\",quote\n"
      "\"first line\nsecond line\nthird\",multi\n"
      "after,next\n"
      "a \"b\" c,inner\n";
  const auto ex = csv(data);
  REQUIRE(ex.size() == 5);
  CHECK(ex[0].text == "hello, world");
  CHECK(ex[0].label == "greeting");
  CHECK(ex[0].line == 2);
  CHECK(ex[1].text == "she said \"hi\"");
  CHECK(ex[2].text == "first line\nsecond line\nthird");
  CHECK(ex[2].label == "multi");
  CHECK(ex[2].line == 4);
  CHECK(ex[3].line == 7);
  CHECK(ex[3].text == "after");
  CHECK(ex[4].text == "a \"b\" c");  // a quote inside an unquoted field is an ordinary character
  CHECK(ex[4].group.empty());
}

TEST_CASE("CSV: CRLF line ends, a byte order mark, blank lines and a last line without newline", "[data]") {
  const std::string data =
      "\xEF\xBB\xBFtext,label\r\n"
      "one,a\r\n"
      "\r\n"
      "\"two\r\nlines\",b\r\n"
      "\n"
      "three,c";
  const auto ex = csv(data);
  REQUIRE(ex.size() == 3);
  CHECK(ex[0].text == "one");
  CHECK(ex[0].label == "a");  // no stray \r
  CHECK(ex[1].text == "two\r\nlines");
  CHECK(ex[1].line == 4);
  CHECK(ex[2].text == "three");
  CHECK(ex[2].label == "c");
  CHECK(ex[2].line == 7);
}

TEST_CASE("CSV: columns by header name or, without a header, by index", "[data]") {
  TextReadOptions o;
  o.text_field = "body";
  o.label_field = "y";
  const auto named = csv("id,y,body\n1,pos,good\n2,neg,bad\n", o);
  REQUIRE(named.size() == 2);
  CHECK(named[1].text == "bad");
  CHECK(named[1].label == "neg");

  o.header = false;
  o.text_field = "1";
  o.label_field = "0";
  const auto indexed = csv("pos,good\nneg,bad\n", o);
  REQUIRE(indexed.size() == 2);  // the first row is data
  CHECK(indexed[0].text == "good");
  CHECK(indexed[0].label == "pos");
  CHECK(indexed[0].line == 1);

  TextReadOptions defaults;
  defaults.header = false;
  REQUIRE_THROWS_WITH(csv("pos,good\n", defaults),
                      Catch::Contains("no column 'text'") && Catch::Contains("available columns: 0, 1") &&
                          Catch::Contains("0-based index"));
}

TEST_CASE("CSV: a missing column lists the available ones; rows must match the header", "[data]") {
  REQUIRE_THROWS_WITH(csv("id,body,label\n1,x,a\n"),
                      Catch::Contains("x.csv:1: no column 'text' (text_field)") &&
                          Catch::Contains("available columns: id, body, label"));
  REQUIRE_THROWS_WITH(csv("text,body\n1,x\n"), Catch::Contains("no column 'label' (label_field)"));
  REQUIRE_THROWS_WITH(csv("text,label,text\nx,a,y\n"), Catch::Contains("column 'text' (text_field) appears more"));
  REQUIRE_THROWS_WITH(csv("text,label\na,b\n\"c,d\",e,f\n"), Catch::Contains("x.csv:3: expected 2 fields, found 3"));
  REQUIRE_THROWS_WITH(csv("text,label\na,b\nc\n"), Catch::Contains("x.csv:3: expected 2 fields, found 1"));
}

TEST_CASE("CSV: an unterminated quote names the line where the field started", "[data]") {
  const std::string data = "text,label\nok,a\n\"never closed,b\nhe said \"\"x\"\"\nand more,c\n";
  REQUIRE_THROWS_WITH(csv(data), Catch::Contains("x.csv:3: unterminated quoted field"));
  REQUIRE_THROWS_WITH(csv("text,label\n\"ab\"c,d\n"),
                      Catch::Contains("x.csv:2: unexpected character 'c' after a closing quote"));
}

TEST_CASE("TSV: tab separated, commas are plain text, quoted fields are accepted", "[data]") {
  const std::string data =
      "label\ttext\n"
      "pos\tgood, very good\n"
      "neg\t\"tab\there\"\n"
      "neu\t\"two\nlines\"\n"
      "pos\the said \"no\"\n";
  const auto ex = parse_text_data(data, "x.tsv", "tsv", {});
  REQUIRE(ex.size() == 4);
  CHECK(ex[0].text == "good, very good");
  CHECK(ex[0].label == "pos");
  CHECK(ex[1].text == "tab\there");
  CHECK(ex[2].text == "two\nlines");
  CHECK(ex[3].text == "he said \"no\"");
  CHECK(ex[3].line == 6);
}

TEST_CASE("JSONL: string and integer labels, blank lines, escapes and line numbers", "[data]") {
  const std::string data =
      "{\"text\": \"first\", \"label\": 3}\n"
      "\n"
      "  \r\n"
      "{\"label\": \"neg\", \"text\": \"caf\\u00e9\", \"extra\": [1, 2]}\r\n"
      "{\"text\": \"minus\", \"label\": -1}";
  const auto ex = jsonl(data);
  REQUIRE(ex.size() == 3);
  CHECK(ex[0].text == "first");
  CHECK(ex[0].label == "3");
  CHECK(ex[0].line == 1);
  CHECK(ex[1].text == "caf\xC3\xA9");
  CHECK(ex[1].label == "neg");
  CHECK(ex[1].line == 4);
  CHECK(ex[2].label == "-1");
  CHECK(ex[2].line == 5);
}

TEST_CASE("JSONL: malformed lines, wrong types and missing keys name the line", "[data]") {
  REQUIRE_THROWS_WITH(jsonl("{\"text\": \"a\", \"label\": 1}\n\n{\"text\": \"b\", \"label\": }\n"),
                      Catch::Contains("x.jsonl:3: invalid JSON:"));
  REQUIRE_THROWS_WITH(jsonl("{\"text\": \"a\", \"label\": 1} {}\n"), Catch::Contains("x.jsonl:1: invalid JSON:"));
  // Found by tests/fuzz/fuzz_text: a number beyond a double's range escaped as a JSON library error.
  REQUIRE_THROWS_WITH(jsonl("{\"text\": \"a\", \"label\": 8e99999}\n"), Catch::Contains("x.jsonl:1: invalid JSON:"));
  REQUIRE_THROWS_WITH(jsonl("[\"a\", 1]\n"), Catch::Contains("x.jsonl:1: expected a JSON object, found an array"));
  REQUIRE_THROWS_WITH(jsonl("{\"label\": 1}\n{\"body\": \"b\", \"label\": 1}\n"),
                      Catch::Contains("x.jsonl:1: missing key 'text' (text_field)"));
  REQUIRE_THROWS_WITH(jsonl("{\"text\": 5, \"label\": 1}\n"),
                      Catch::Contains("x.jsonl:1: key 'text' must be a string, found integer 5"));
  REQUIRE_THROWS_WITH(jsonl("{\"text\": \"a\", \"label\": null}\n"),
                      Catch::Contains("key 'label' must be a string or an integer, found null"));
  REQUIRE_THROWS_WITH(jsonl("{\"text\": \"a\", \"label\": 1.5}\n"), Catch::Contains("found number 1.5"));
}

TEST_CASE("A missing or empty label is an error naming the line; no label field means unlabeled", "[data]") {
  REQUIRE_THROWS_WITH(jsonl("{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\"}\n"),
                      Catch::Contains("x.jsonl:2: missing key 'label' (label_field)"));
  REQUIRE_THROWS_WITH(jsonl("{\"text\": \"a\", \"label\": \"\"}\n"),
                      Catch::Contains("x.jsonl:1: missing label: field 'label' is empty"));
  REQUIRE_THROWS_WITH(csv("text,label\na,x\n\nb,\n"), Catch::Contains("x.csv:4: missing label"));
  TextReadOptions unlabeled;
  unlabeled.label_field = "";
  const auto ex = csv("text\nfirst\nsecond\n", unlabeled);
  REQUIRE(ex.size() == 2);
  CHECK(ex[1].text == "second");
  CHECK(ex[1].label.empty());
  CHECK(jsonl("{\"text\": \"a\"}\n", unlabeled).at(0).label.empty());
}

TEST_CASE("Invalid UTF-8 is an error naming line, offset and field, or is repaired with one warning", "[data]") {
  const std::string data = "text,label\nfine,a\nab\xC0" "c,b\n\"x\xE2\x82\",\xFF\n";
  REQUIRE_THROWS_WITH(csv(data), Catch::Contains("x.csv:3: invalid UTF-8 at byte offset 2 of field 'text'"));
  TextReadOptions repair;
  repair.invalid_utf8 = "repair";
  CapturedLog log;
  const auto ex = csv(data, repair);
  REQUIRE(ex.size() == 3);
  CHECK(ex[1].text == "ab" + kFFFD + "c");
  CHECK(ex[2].text == "x" + kFFFD);
  CHECK(ex[2].label == kFFFD);
  const std::string warnings = log.text();
  CHECK_THAT(warnings, Catch::Contains("x.csv: replaced 3 invalid UTF-8 sequences with U+FFFD"));
  CHECK(std::count(warnings.begin(), warnings.end(), '\n') == 1);  // a single warning

  const std::string lines = "{\"text\": \"ok\", \"label\": 1}\n{\"text\": \"b\xE9t\", \"label\": 2}\n";
  REQUIRE_THROWS_WITH(jsonl(lines), Catch::Contains("x.jsonl:2: invalid UTF-8 at byte offset 11 of the line"));
  const auto repaired = jsonl(lines, repair);
  REQUIRE(repaired.size() == 2);
  CHECK(repaired[1].text == "b" + kFFFD + "t");
  CHECK_THAT(log.text(), Catch::Contains("x.jsonl: replaced 1 invalid UTF-8 sequence with U+FFFD"));
}

TEST_CASE("Empty texts are kept", "[data]") {
  const auto from_csv = csv("text,label\n\"\",a\n,b\n");
  REQUIRE(from_csv.size() == 2);
  CHECK(from_csv[0].text.empty());
  CHECK(from_csv[1].text.empty());
  CHECK(from_csv[1].label == "b");
  const auto from_jsonl = jsonl("{\"text\": \"\", \"label\": 0}\n");
  REQUIRE(from_jsonl.size() == 1);
  CHECK(from_jsonl[0].text.empty());
  CHECK(csv("").empty());
  CHECK(csv("text,label\n").empty());
  CHECK(jsonl("\n\n").empty());
}

TEST_CASE("Group fields are read and required when configured", "[data]") {
  TextReadOptions o;
  o.group_field = "speaker";
  const auto from_csv = csv("speaker,text,label\nann,hi,a\nbob,yo,b\n", o);
  REQUIRE(from_csv.size() == 2);
  CHECK(from_csv[0].group == "ann");
  CHECK(from_csv[1].group == "bob");
  const auto from_jsonl = jsonl("{\"text\": \"a\", \"label\": 1, \"speaker\": 42}\n", o);
  CHECK(from_jsonl.at(0).group == "42");
  REQUIRE_THROWS_WITH(jsonl("{\"text\": \"a\", \"label\": 1}\n", o),
                      Catch::Contains("x.jsonl:1: missing key 'speaker' (group_field)"));
  REQUIRE_THROWS_WITH(csv("text,label\na,b\n", o), Catch::Contains("no column 'speaker' (group_field)"));
  REQUIRE_THROWS_WITH(csv("speaker,text,label\nann,hi,a\n,yo,b\n", o),
                      Catch::Contains("x.csv:3: missing group: field 'speaker' is empty"));
}

TEST_CASE("read_text_file picks the format from the extension and names the file in errors", "[data]") {
  focus::testing::TempDir dir;
  write(dir / "a.csv", "text,label\n\"x, y\",1\n");
  write(dir / "b.TSV", "text\tlabel\nx, y\t2\n");
  write(dir / "c.ndjson", "{\"text\": \"x, y\", \"label\": 3}\n");
  write(dir / "d.jsonl", "");
  write(dir / "e.txt", "text,label\nx,1\n");
  TextReadOptions o;
  int expected_label = 1;
  for (const char* name : {"a.csv", "b.TSV", "c.ndjson"}) {
    const auto ex = focus::data::read_text_file((dir / name).string(), o);
    REQUIRE(ex.size() == 1);
    CHECK(ex[0].text == "x, y");
    CHECK(ex[0].label == std::to_string(expected_label++));
  }
  CHECK(focus::data::read_text_file((dir / "d.jsonl").string(), o).empty());
  REQUIRE_THROWS_WITH(focus::data::read_text_file((dir / "e.txt").string(), o),
                      Catch::Contains("e.txt") && Catch::Contains("extension '.txt'"));
  o.format = "csv";
  CHECK(focus::data::read_text_file((dir / "e.txt").string(), o).at(0).label == "1");
  REQUIRE_THROWS_WITH(focus::data::read_text_file((dir / "missing.csv").string(), o),
                      Catch::Contains("missing.csv"));
  REQUIRE_THROWS_WITH(focus::data::read_text_file(dir.path().string(), o), Catch::Contains("is a directory"));
  CHECK(parse_text_data("{\"text\": \"a\", \"label\": 1}", "mem.jsonl", "auto", {}).size() == 1);
}

TEST_CASE("Unknown formats and invalid_utf8 values are rejected", "[data]") {
  REQUIRE_THROWS_WITH(parse_text_data("text,label\n", "x.csv", "xml", {}),
                      Catch::Contains("unknown text format 'xml'"));
  TextReadOptions o;
  o.invalid_utf8 = "ignore";
  REQUIRE_THROWS_WITH(csv("text,label\n", o), Catch::Contains("invalid_utf8 must be \"error\" or \"repair\""));
}
