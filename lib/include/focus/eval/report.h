#pragma once
// A self-contained HTML evaluation report: inline CSS, images embedded as
// data URIs, an inline SVG reliability diagram, no external resources and
// every piece of caller-provided text HTML-escaped.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "focus/eval/metrics.h"

namespace focus::eval {

/// Everything one report shows.
struct ReportInput {
  std::string title;                                // e.g. the run name
  std::string split;                                // e.g. "test"
  std::vector<std::string> runs;                    // run directories (several for an ensemble)
  std::vector<std::string> class_names;             // one per class, or empty to show indices
  Metrics metrics;                                  // what compute_metrics() returned
  std::string confusion_png;                        // PNG bytes; empty shows only the numeric table
  nlohmann::json extra = nlohmann::json::object();  // free-form facts shown in a table (recipe, epochs, ...)
};

/// Renders the report: summary (accuracy, top-k, macro-F1, NLL, ECE, count),
/// per-class table, confusion matrix image (plus the counts as a table),
/// reliability diagram (inline SVG) with its bin table, and the extra facts.
/// Throws focus::Error when class_names has the wrong size or extra is not
/// a JSON object (null is accepted as "no facts").
std::string render_report_html(const ReportInput& input);

/// Escapes &, <, >, " and ' so the text is safe in HTML content and attribute values.
std::string html_escape(std::string_view text);

}  // namespace focus::eval
