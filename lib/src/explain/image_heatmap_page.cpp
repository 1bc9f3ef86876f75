#include "focus/explain/image_heatmap_page.h"

#include <algorithm>
#include <cstdio>

#include "focus/eval/report.h"
#include "focus/explain/heatmap_image.h"
#include "focus/util/atomic_file.h"
#include "focus/util/error.h"

namespace focus::explain {

namespace fs = std::filesystem;

namespace {
std::string word_text(const ExplainedImage& ex, const data::Token& t) {
  const auto size = static_cast<int64_t>(ex.question.size());
  const int64_t begin = std::clamp<int64_t>(t.begin, 0, size), end = std::clamp<int64_t>(t.end, begin, size);
  return ex.question.substr(static_cast<size_t>(begin), static_cast<size_t>(end - begin));
}

/// The question with each word in a span that names its index (data-k).
std::string question_html(const ExplainedImage& ex) {
  using eval::html_escape;
  std::string html;
  int64_t at = 0;
  const auto size = static_cast<int64_t>(ex.question.size());
  for (size_t k = 0; k < ex.words.size(); ++k) {
    const auto& t = ex.words[k];
    if (t.begin < at || t.end > size) continue;
    html += html_escape(ex.question.substr(static_cast<size_t>(at), static_cast<size_t>(t.begin - at)));
    html += "<span class=\"w\" data-k=\"" + std::to_string(k) + "\">" + html_escape(word_text(ex, t)) + "</span>";
    at = t.end;
  }
  return html + html_escape(ex.question.substr(static_cast<size_t>(std::min(at, size))));
}

std::string percent(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * p);
  return buf;
}
}  // namespace

ImagePageSummary write_image_heatmaps(const fs::path& out_dir, util::Json header, const std::string& description,
                                      const std::vector<std::string>& methods,
                                      const std::vector<ExplainedImage>& examples) {
  using eval::html_escape;
  std::vector<std::pair<std::string, std::string>> files;  // name -> bytes
  util::Json listing = util::Json::array();
  std::string rows;
  const bool has_questions =
      std::any_of(examples.begin(), examples.end(), [](const ExplainedImage& e) { return !e.question.empty(); });
  for (const auto& ex : examples) {
    const int64_t h = ex.pixels.size(0), w = ex.pixels.size(1);
    std::vector<GridTile> tiles = {{"input", ex.pixels, {}}};
    util::Json json = {{"id", ex.id},
                       {"predicted", ex.predicted},
                       {"target", ex.target},
                       {"probability", ex.probability},
                       {"maps", util::Json::object()}};
    if (!ex.label.empty()) json["label"] = ex.label;
    if (ex.index >= 0) json["index"] = ex.index;
    rows += "<tr><td>" + html_escape(ex.id) + "</td>";
    if (has_questions) {
      json["question"] = ex.question;
      rows += "<td class=\"q\">" + question_html(ex) + "</td>";
      util::Json words = util::Json::array();
      for (const auto& t : ex.words) words.push_back({{"token", word_text(ex, t)}, {"begin", t.begin}, {"end", t.end}});
      json["words"] = words;
    }
    rows += "<td>" + html_escape(ex.label.empty() ? "-" : ex.label) + "</td><td>" +
            html_escape(ex.predicted) + " (" + percent(ex.predicted_probability) + ")</td><td>" + html_escape(ex.target) +
            " (" + percent(ex.probability) + ")</td>";
    for (const auto& m : ex.maps) {
      auto raw = m.raw.to(torch::kCPU).to(torch::kFloat);
      auto shown = resize_map(normalize_map(raw), h, w);
      const std::string base = ex.id + "-" + m.method;
      files.emplace_back(base + ".png", overlay_png(ex.pixels, shown));
      files.emplace_back(base + ".npy", npy_bytes(raw));
      json["maps"][m.method] = {{"png", base + ".png"}, {"npy", base + ".npy"}, {"source", m.source},
                                {"shape", raw.sizes().vec()}};
      tiles.push_back({m.method, ex.pixels, shown});
      const bool per_word = !m.per_word.empty();
      if (per_word && m.per_word.size() != ex.words.size())
        throw Error(ex.id + ": " + m.method + " has " + std::to_string(m.per_word.size()) + " word maps for " +
                    std::to_string(ex.words.size()) + " words");
      rows += "<td><a href=\"" + html_escape(base) + ".png\"><img class=\"map\" src=\"" + html_escape(base) + ".png\"" +
              (per_word ? " data-base=\"" + html_escape(base) + "\"" : std::string()) + " alt=\"" + html_escape(m.method) +
              "\"></a><br><small>" + html_escape(m.source) + "</small>";
      if (per_word) {
        std::vector<GridTile> strip = {{"input", ex.pixels, {}}, {"question", ex.pixels, shown}};
        util::Json word_files = util::Json::array();
        for (size_t k = 0; k < m.per_word.size(); ++k) {
          auto word_map = resize_map(normalize_map(m.per_word[k].to(torch::kCPU).to(torch::kFloat)), h, w);
          const std::string name = base + "-w" + std::to_string(k) + ".png";
          files.emplace_back(name, overlay_png(ex.pixels, word_map));
          word_files.push_back(name);
          strip.push_back({word_text(ex, ex.words[k]), ex.pixels, word_map});
        }
        files.emplace_back(base + "-words.png", grid_png(strip, ex.question, 120));
        json["maps"][m.method]["words"] = word_files;
        json["maps"][m.method]["strip"] = base + "-words.png";
        rows += "<br><a href=\"" + html_escape(base) + "-words.png\">per word</a>";
      }
      rows += "</td>";
    }
    const std::string title = (ex.label.empty() ? "" : "true " + ex.label + ", ") + "predicted " + ex.predicted + " (" +
                              percent(ex.predicted_probability) + "), explained: " + ex.target;
    files.emplace_back(ex.id + "-grid.png", grid_png(tiles, title));
    json["grid"] = ex.id + "-grid.png";
    rows += "<td><a href=\"" + html_escape(ex.id) + "-grid.png\">grid</a></td></tr>\n";
    listing.push_back(std::move(json));
  }
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Focus heatmaps</title><style>"
      "body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
      "padding:6px;text-align:center}img.map{width:112px;image-rendering:pixelated}td.q{max-width:16em}"
      "span.w{cursor:pointer;border-bottom:1px dotted #888}span.w:hover{background:#fd6}</style></head><body>\n"
      "<h1>Heatmaps</h1>\n<p>" + description + "</p>\n" +
      (has_questions ? "<p>Point at a word of a question to see the regions it attended to (maps with a map per "
                       "word).</p>\n" : "") +
      "<table><tr><th>#</th>" + (has_questions ? "<th>question</th>" : "") + "<th>true</th>"
      "<th>predicted (p)</th><th>explained (p)</th>";
  for (const auto& m : methods) html += "<th>" + html_escape(m) + "</th>";
  html += "<th>grid</th></tr>\n" + rows + "</table>\n";
  if (has_questions)
    html +=
        "<script>\n"
        "document.querySelectorAll('tr').forEach(row => {\n"
        "  const maps = [...row.querySelectorAll('img[data-base]')];\n"
        "  row.querySelectorAll('span.w').forEach(word => {\n"
        "    word.addEventListener('mouseenter', () => maps.forEach(img => img.src = img.dataset.base + '-w' + word.dataset.k + '.png'));\n"
        "    word.addEventListener('mouseleave', () => maps.forEach(img => img.src = img.dataset.base + '.png'));\n"
        "  });\n"
        "});\n</script>\n";
  html += "</body></html>\n";

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw Error(out_dir.string() + ": cannot create directory: " + ec.message());
  ImagePageSummary summary;
  for (const auto& [name, bytes] : files) {
    util::write_file_atomic(out_dir / name, bytes);
    ++summary.files;
  }
  header["methods"] = methods;
  header["examples"] = listing;
  util::write_file_atomic(out_dir / "heatmaps.json", header.dump(2) + "\n");
  util::write_file_atomic(out_dir / "index.html", html);
  summary.files += 2;
  summary.index_html = (out_dir / "index.html").string();
  return summary;
}

}  // namespace focus::explain
