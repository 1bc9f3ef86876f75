#include "focus/explain/image_heatmap_page.h"

#include <cstdio>

#include "focus/eval/report.h"
#include "focus/explain/heatmap_image.h"
#include "focus/util/atomic_file.h"
#include "focus/util/error.h"

namespace focus::explain {

namespace fs = std::filesystem;

namespace {
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
    rows += "<tr><td>" + html_escape(ex.id) + "</td><td>" + html_escape(ex.label.empty() ? "-" : ex.label) + "</td><td>" +
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
      rows += "<td><a href=\"" + html_escape(base) + ".png\"><img class=\"map\" src=\"" + html_escape(base) +
              ".png\" alt=\"" + html_escape(m.method) + "\"></a><br><small>" + html_escape(m.source) + "</small></td>";
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
      "padding:6px;text-align:center}img.map{width:112px;image-rendering:pixelated}</style></head><body>\n"
      "<h1>Heatmaps</h1>\n<p>" + description + "</p>\n<table><tr><th>#</th><th>true</th>"
      "<th>predicted (p)</th><th>explained (p)</th>";
  for (const auto& m : methods) html += "<th>" + html_escape(m) + "</th>";
  html += "<th>grid</th></tr>\n" + rows + "</table>\n</body></html>\n";

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
