#include "focus/eval/report.h"

#include "focus/util/base64.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>

#include "focus/util/error.h"

namespace focus::eval {
namespace {

constexpr const char* kStyle = R"css(
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       background: #f6f7f9; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { font-size: 19px; margin: 0 0 12px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 18px 22px;
          margin-top: 18px; }
.sub { color: #666; margin: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #dde1e6; border-radius: 6px; padding: 10px 16px; min-width: 110px; }
.card .label { font-size: 12px; color: #666; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 22px; font-weight: 600; margin-top: 2px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eceef1; text-align: right; }
th { background: #f0f2f5; font-weight: 600; }
th:first-child, td:first-child { text-align: left; }
tr.worst td { background: #fff4f0; }
td.diag { font-weight: 700; background: #eaf2fb; }
.bar { display: inline-block; width: 120px; height: 10px; background: #eceef1;
       border-radius: 5px; vertical-align: middle; margin-left: 8px; }
.bar span { display: block; height: 100%; background: #2171b5; border-radius: 5px; }
img.confusion { max-width: 100%; height: auto; border: 1px solid #eceef1; }
details { margin-top: 12px; }
code { font-family: "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; }
.flex { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
footer { color: #888; font-size: 12px; margin-top: 24px; }
)css";

std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

std::string percent(double fraction) { return fixed(100.0 * fraction, 2) + "%"; }

std::string card(const std::string& label, const std::string& value) {
  return "<div class=\"card\"><div class=\"label\">" + html_escape(label) +
         "</div><div class=\"value\">" + html_escape(value) + "</div></div>\n";
}

std::string summary_section(const Metrics& m) {
  std::string out = "<section><h2>Summary</h2>\n<div class=\"cards\">\n";
  out += card("accuracy", percent(m.accuracy));
  for (const auto& [k, accuracy] : m.topk) {
    if (k != 1) out += card("top-" + std::to_string(k) + " accuracy", percent(accuracy));
  }
  out += card("macro-F1", fixed(m.macro_f1, 4));
  out += card("NLL", fixed(m.nll, 4));
  out += card("ECE", fixed(m.ece, 4));
  out += card("samples", std::to_string(m.count));
  return out + "</div>\n</section>\n";
}

std::string runs_section(const ReportInput& input) {
  if (input.runs.empty()) return "";
  const std::string heading = input.runs.size() > 1
                                  ? "Ensemble of " + std::to_string(input.runs.size()) + " runs"
                                  : "Run";
  std::string out = "<section><h2>" + heading + "</h2>\n<ul>\n";
  for (const std::string& run : input.runs) out += "<li><code>" + html_escape(run) + "</code></li>\n";
  return out + "</ul>\n</section>\n";
}

std::string per_class_section(const Metrics& m, const std::vector<std::string>& names) {
  size_t worst = 0;
  for (size_t c = 1; c < m.per_class.size(); ++c) {
    if (m.per_class[c].f1 < m.per_class[worst].f1) worst = c;
  }
  std::string out =
      "<section><h2>Per-class metrics</h2>\n<table>\n<tr><th>class</th><th>precision</th>"
      "<th>recall</th><th>F1</th><th>support</th></tr>\n";
  for (size_t c = 0; c < m.per_class.size(); ++c) {
    const ClassMetrics& cm = m.per_class[c];
    const std::string width = fixed(std::clamp(cm.f1, 0.0, 1.0) * 100.0, 1);
    out += std::string(m.per_class.size() > 1 && c == worst ? "<tr class=\"worst\">" : "<tr>") +
           "<td>" + html_escape(names[c]) + "</td><td>" + percent(cm.precision) + "</td><td>" +
           percent(cm.recall) + "</td><td>" + fixed(cm.f1, 4) +
           "<span class=\"bar\"><span style=\"width:" + width + "%\"></span></span></td><td>" +
           std::to_string(cm.support) + "</td></tr>\n";
  }
  out += "</table>\n";
  if (m.per_class.size() > 1) out += "<p class=\"sub\">Highlighted: the class with the lowest F1.</p>\n";
  return out + "</section>\n";
}

std::string confusion_section(const ReportInput& input, const std::vector<std::string>& names) {
  const auto& confusion = input.metrics.confusion;
  std::string out = "<section><h2>Confusion matrix</h2>\n";
  if (!input.confusion_png.empty()) {
    out += "<img class=\"confusion\" alt=\"confusion matrix heatmap\" src=\"data:image/png;base64," +
           util::base64_encode(input.confusion_png) + "\">\n<details><summary>Counts as a table</summary>\n";
  }
  out += "<table>\n<tr><th>true \\ predicted</th>";
  for (const std::string& name : names) out += "<th>" + html_escape(name) + "</th>";
  out += "</tr>\n";
  for (size_t r = 0; r < confusion.size(); ++r) {
    out += "<tr><td>" + html_escape(names[r]) + "</td>";
    for (size_t c = 0; c < confusion[r].size(); ++c) {
      out += std::string(r == c ? "<td class=\"diag\">" : "<td>") + std::to_string(confusion[r][c]) +
             "</td>";
    }
    out += "</tr>\n";
  }
  out += "</table>\n";
  if (!input.confusion_png.empty()) out += "</details>\n";
  return out + "</section>\n";
}

// Reliability diagram: per-bin accuracy bars, the gap to mean confidence, the diagonal.
std::string reliability_svg(const Metrics& m) {
  const double left = 52, top = 14, size = 300;
  auto x = [&](double v) { return fixed(left + v * size, 1); };
  auto y = [&](double v) { return fixed(top + (1.0 - v) * size, 1); };
  std::ostringstream s;
  s << "<svg width=\"380\" height=\"380\" viewBox=\"0 0 380 380\" role=\"img\" "
       "aria-label=\"reliability diagram\" font-size=\"12\" font-family=\"sans-serif\">\n";
  s << "<rect x=\"" << x(0) << "\" y=\"" << y(1) << "\" width=\"" << size << "\" height=\"" << size
    << "\" fill=\"#fafbfc\" stroke=\"#999\"/>\n";
  for (int i = 0; i <= 5; ++i) {
    const double v = i / 5.0;
    s << "<line x1=\"" << x(v) << "\" y1=\"" << y(0) << "\" x2=\"" << x(v) << "\" y2=\"" << y(1)
      << "\" stroke=\"#eee\"/>"
      << "<line x1=\"" << x(0) << "\" y1=\"" << y(v) << "\" x2=\"" << x(1) << "\" y2=\"" << y(v)
      << "\" stroke=\"#eee\"/>\n"
      << "<text x=\"" << x(v) << "\" y=\"" << fixed(top + size + 16, 1)
      << "\" text-anchor=\"middle\">" << fixed(v, 1) << "</text>"
      << "<text x=\"" << fixed(left - 6, 1) << "\" y=\"" << fixed(top + (1 - v) * size + 4, 1)
      << "\" text-anchor=\"end\">" << fixed(v, 1) << "</text>\n";
  }
  for (const CalibrationBin& b : m.calibration) {
    if (b.count == 0) continue;
    const double lo = std::clamp(b.lower, 0.0, 1.0), hi = std::clamp(b.upper, 0.0, 1.0);
    const std::string w = fixed((hi - lo) * size, 1);
    s << "<rect x=\"" << x(lo) << "\" y=\"" << y(b.accuracy) << "\" width=\"" << w << "\" height=\""
      << fixed(b.accuracy * size, 1) << "\" fill=\"#2171b5\" stroke=\"#fff\"><title>"
      << fixed(lo, 2) << "-" << fixed(hi, 2) << ": accuracy " << percent(b.accuracy)
      << ", confidence " << percent(b.confidence) << ", " << b.count << " samples</title></rect>\n";
    const double gap_top = std::max(b.accuracy, b.confidence);
    s << "<rect x=\"" << x(lo) << "\" y=\"" << y(gap_top) << "\" width=\"" << w << "\" height=\""
      << fixed(std::abs(b.accuracy - b.confidence) * size, 1)
      << "\" fill=\"#e6550d\" fill-opacity=\"0.35\" stroke=\"#e6550d\" stroke-width=\"0.8\"/>\n";
  }
  s << "<line x1=\"" << x(0) << "\" y1=\"" << y(0) << "\" x2=\"" << x(1) << "\" y2=\"" << y(1)
    << "\" stroke=\"#555\" stroke-dasharray=\"5 4\"/>\n";
  s << "<text x=\"" << x(0.5) << "\" y=\"" << fixed(top + size + 34, 1)
    << "\" text-anchor=\"middle\">confidence (max probability)</text>\n";
  s << "<text transform=\"translate(14 " << y(0.5) << ") rotate(-90)\" text-anchor=\"middle\">"
       "accuracy</text>\n";
  s << "<rect x=\"" << fixed(left + 2, 1) << "\" y=\"" << fixed(top + 2, 1)
    << "\" width=\"140\" height=\"42\" fill=\"#fff\" fill-opacity=\"0.85\"/>\n";
  s << "<rect x=\"" << fixed(left + 8, 1) << "\" y=\"" << fixed(top + 8, 1)
    << "\" width=\"12\" height=\"12\" fill=\"#2171b5\"/><text x=\"" << fixed(left + 26, 1)
    << "\" y=\"" << fixed(top + 18, 1) << "\">accuracy</text>\n";
  s << "<rect x=\"" << fixed(left + 8, 1) << "\" y=\"" << fixed(top + 26, 1)
    << "\" width=\"12\" height=\"12\" fill=\"#e6550d\" fill-opacity=\"0.35\" stroke=\"#e6550d\"/>"
    << "<text x=\"" << fixed(left + 26, 1) << "\" y=\"" << fixed(top + 36, 1)
    << "\">gap to confidence</text>\n";
  s << "</svg>\n";
  return s.str();
}

std::string calibration_section(const Metrics& m) {
  std::string out = "<section><h2>Calibration</h2>\n<p class=\"sub\">Expected calibration error " +
                    fixed(m.ece, 4) + " over " + std::to_string(m.calibration.size()) +
                    " equal-width confidence bins.</p>\n<div class=\"flex\">\n" +
                    reliability_svg(m) +
                    "<table>\n<tr><th>confidence bin</th><th>samples</th><th>mean confidence</th>"
                    "<th>accuracy</th><th>accuracy &minus; confidence</th></tr>\n";
  for (const CalibrationBin& b : m.calibration) {
    if (b.count == 0) continue;
    out += "<tr><td>" + fixed(b.lower, 3) + " &ndash; " + fixed(b.upper, 3) + "</td><td>" +
           std::to_string(b.count) + "</td><td>" + percent(b.confidence) + "</td><td>" +
           percent(b.accuracy) + "</td><td>" + percent(b.accuracy - b.confidence) + "</td></tr>\n";
  }
  return out + "</table>\n</div>\n</section>\n";
}

std::string extra_section(const nlohmann::json& extra) {
  if (extra.is_null() || extra.empty()) return "";
  std::string out = "<section><h2>Details</h2>\n<table>\n";
  for (const auto& [key, value] : extra.items()) {
    const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
    out += "<tr><td>" + html_escape(key) + "</td><td>" + html_escape(text) + "</td></tr>\n";
  }
  return out + "</table>\n</section>\n";
}

void check_input(const ReportInput& input) {
  const size_t n = input.metrics.per_class.size();
  if (!input.class_names.empty() && input.class_names.size() != n) {
    throw Error("render_report_html: expected " + std::to_string(n) +
                " class names (one per class in the metrics) or none, found " +
                std::to_string(input.class_names.size()));
  }
  bool square = input.metrics.confusion.empty() || input.metrics.confusion.size() == n;
  for (const auto& row : input.metrics.confusion) square = square && row.size() == n;
  if (!square) {
    throw Error("render_report_html: expected the confusion matrix to be " + std::to_string(n) +
                " x " + std::to_string(n) + ", found " +
                std::to_string(input.metrics.confusion.size()) + " rows");
  }
  if (!input.extra.is_null() && !input.extra.is_object()) {
    throw Error(std::string("render_report_html: expected 'extra' to be a JSON object, found ") +
                input.extra.type_name());
  }
}

}  // namespace

std::string render_report_html(const ReportInput& input) {
  check_input(input);
  std::vector<std::string> names = input.class_names;
  if (names.empty()) {
    for (size_t c = 0; c < input.metrics.per_class.size(); ++c) names.push_back(std::to_string(c));
  }
  const std::string title = input.title.empty() ? "Evaluation report" : input.title;
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>" + html_escape(title) + "</title>\n<style>" + kStyle +
                    "</style>\n</head>\n<body>\n<main>\n";
  out += "<h1>" + html_escape(title) + "</h1>\n<p class=\"sub\">Split: <b>" +
         html_escape(input.split.empty() ? "unknown" : input.split) + "</b> &middot; " +
         std::to_string(input.metrics.count) + " samples &middot; " + std::to_string(names.size()) +
         " classes</p>\n";
  out += summary_section(input.metrics);
  out += runs_section(input);
  out += per_class_section(input.metrics, names);
  out += confusion_section(input, names);
  out += calibration_section(input.metrics);
  out += extra_section(input.extra);
  out += "<footer>Generated by Focus. This page is self-contained.</footer>\n</main>\n</body>\n</html>\n";
  return out;
}


std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

}  // namespace focus::eval
