// HTML report helpers, the report itself and the confusion-matrix PNG.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "focus/eval/confusion_plot.h"
#include "focus/eval/metrics.h"
#include "focus/eval/report.h"
#include "focus/util/base64.h"
#include "focus/util/error.h"

using focus::util::base64_encode;
using focus::eval::html_escape;
using focus::eval::render_confusion_png;

namespace {

const std::vector<std::string> kFashionNames = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                "Bag",         "Ankle boot"};

std::vector<std::vector<int64_t>> diagonal_heavy(int n) {
  std::vector<std::vector<int64_t>> m(n, std::vector<int64_t>(n, 3));
  for (int i = 0; i < n; ++i) m[i][i] = 970 - 3 * (n - 1) + i;
  return m;
}

cv::Mat decode(const std::string& png) {
  const std::vector<uchar> bytes(png.begin(), png.end());
  return cv::imdecode(bytes, cv::IMREAD_COLOR);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("base64: RFC 4648 test vectors", "[eval][report]") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  // High bytes and NUL are data, not terminators.
  CHECK(base64_encode(std::string("\xff\xfe\x00\x01", 4)) == "//4AAQ==");
  CHECK(base64_encode(std::string("\xfb\xff", 2)) == "+/8=");
}

TEST_CASE("base64: decoding inverts encoding and rejects bad input", "[util]") {
  using focus::util::base64_decode;
  for (const std::string& text : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\xff\xfe\x00\x01", 4)})
    CHECK(base64_decode(base64_encode(text)) == text);
  CHECK(base64_decode("Zm9v\nYmFy") == "foobar");
  CHECK_THROWS_WITH(base64_decode("Zm9v!"), Catch::Contains("unexpected character"));
  CHECK_THROWS_WITH(base64_decode("Zm9vY"), Catch::Contains("ends mid-group"));
  CHECK_THROWS_WITH(base64_decode("Zg=a"), Catch::Contains("unexpected character"));
}

TEST_CASE("html_escape: the five special characters", "[eval][report]") {
  CHECK(html_escape("plain text 123") == "plain text 123");
  CHECK(html_escape("<a href=\"x\">Tom & Jerry's</a>") ==
        "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  CHECK(html_escape("&amp;") == "&amp;amp;");
  CHECK(html_escape("") == "");
  CHECK(html_escape("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 passes through
}

TEST_CASE("confusion PNG: decodes with a sensible size", "[eval][plot]") {
  const std::string png = render_confusion_png(diagonal_heavy(10), kFashionNames);
  REQUIRE(png.size() > 8);
  CHECK(png.compare(1, 3, "PNG") == 0);
  const cv::Mat image = decode(png);
  REQUIRE(!image.empty());
  CHECK(image.channels() == 3);
  // Ten cells of at least 40 px plus room for names, but not a poster.
  CHECK(image.cols >= 500);
  CHECK(image.rows >= 500);
  CHECK(image.cols <= 2000);
  CHECK(image.rows <= 2000);
  // Both the light background and dark (diagonal) cells are present.
  double lo = 0, hi = 0;
  cv::Mat gray;
  cv::extractChannel(image, gray, 2);  // red channel: dark blue cells are near 0
  cv::minMaxLoc(gray, &lo, &hi);
  CHECK(lo < 40);
  CHECK(hi > 240);
}

TEST_CASE("confusion PNG: other sizes and names", "[eval][plot]") {
  const cv::Mat one = decode(render_confusion_png({{5}}, {}));
  CHECK(!one.empty());
  const cv::Mat many = decode(render_confusion_png(diagonal_heavy(60), {}));
  REQUIRE(!many.empty());
  CHECK(many.cols <= 2000);
  // Non-ASCII and very long names are drawn, shortened, without failing.
  const cv::Mat odd = decode(render_confusion_png(
      {{1, 2}, {3, 4}}, {"caf\xc3\xa9", std::string(80, 'x')}));
  CHECK(!odd.empty());
  CHECK(odd.cols < 1000);
}

TEST_CASE("confusion PNG: bad input throws focus::Error", "[eval][plot]") {
  REQUIRE_THROWS_AS(render_confusion_png({}, {}), focus::Error);
  REQUIRE_THROWS_AS(render_confusion_png({{1, 2}, {3}}, {}), focus::Error);
  REQUIRE_THROWS_AS(render_confusion_png({{1, 2}}, {}), focus::Error);
  REQUIRE_THROWS_AS(render_confusion_png({{1, -2}, {3, 4}}, {}), focus::Error);
  REQUIRE_THROWS_AS(render_confusion_png({{1, 2}, {3, 4}}, {"a", "b", "c"}), focus::Error);
}

TEST_CASE("report: self-contained HTML with escaped names", "[eval][report]") {
  // Three classes, one with markup in its name.
  const std::vector<float> probs = {0.7f, 0.2f, 0.1f, 0.2f, 0.5f, 0.3f, 0.1f, 0.8f, 0.1f,
                                    0.6f, 0.3f, 0.1f, 0.05f, 0.05f, 0.9f, 0.3f, 0.4f, 0.3f};
  focus::eval::ReportInput input;
  input.title = "fashion <vit> & co";
  input.split = "test";
  input.runs = {"runs/a", "runs/b"};
  input.class_names = {"T-shirt/top", "<b>bold</b>", "Ankle boot"};
  input.metrics = focus::eval::compute_metrics(probs, {0, 0, 1, 1, 2, 2}, 3);
  input.confusion_png = render_confusion_png(input.metrics.confusion, input.class_names);
  input.extra = {{"recipe", "vit_tiny"}, {"epochs", 12}, {"note", "a \"quoted\" <note>"}};

  const std::string html = focus::eval::render_report_html(input);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(contains(html, "</html>"));
  CHECK(contains(html, "T-shirt/top"));
  CHECK(contains(html, "&lt;b&gt;bold&lt;/b&gt;"));
  CHECK_FALSE(contains(html, "<b>bold</b>"));
  CHECK(contains(html, "fashion &lt;vit&gt; &amp; co"));
  CHECK(contains(html, "runs/a"));
  CHECK(contains(html, "runs/b"));
  CHECK(contains(html, "data:image/png;base64," + base64_encode(input.confusion_png)));
  CHECK(contains(html, "<svg"));
  CHECK(contains(html, "vit_tiny"));
  CHECK(contains(html, "a &quot;quoted&quot; &lt;note&gt;"));
  CHECK(contains(html, "50.00%"));  // accuracy
  CHECK(contains(html, "0.3500"));  // ECE with 15 bins equals the 3-bin value here
  // No external resources of any kind.
  CHECK_FALSE(contains(html, "http"));
  CHECK_FALSE(contains(html, "<script"));
  CHECK_FALSE(contains(html, "<link"));
  CHECK_FALSE(contains(html, "url("));
}

TEST_CASE("report: optional parts and bad input", "[eval][report]") {
  focus::eval::ReportInput input;
  input.metrics = focus::eval::compute_metrics({0.9f, 0.1f, 0.2f, 0.8f}, {0, 1}, 2);
  // No names, no PNG, no extras: indices and a numeric confusion table are shown.
  const std::string html = focus::eval::render_report_html(input);
  CHECK(contains(html, "<table>"));
  CHECK_FALSE(contains(html, "data:image/png"));
  CHECK_FALSE(contains(html, "http"));

  input.class_names = {"only one"};
  REQUIRE_THROWS_AS(focus::eval::render_report_html(input), focus::Error);
  input.class_names = {};
  input.extra = nlohmann::json::array({1, 2});
  REQUIRE_THROWS_AS(focus::eval::render_report_html(input), focus::Error);
}
