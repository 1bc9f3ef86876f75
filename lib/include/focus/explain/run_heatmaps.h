#pragma once
// The job behind focus-heatmap: explain examples of a split of a trained run
// with several methods. Image runs: per example and method an overlay PNG and
// the raw map (.npy), a grid PNG comparing the methods. Text runs: a weight per
// token (with byte offsets) for every map. Both: heatmaps.json listing
// everything and an index.html showing it.
#include <string>
#include <vector>

#include "focus/explain/explainer.h"
#include "focus/train/trained_run.h"

namespace focus::explain {

struct HeatmapRequest {
  std::string run;                    ///< run directory written by focus-train
  std::string split = "test";         ///< test, val or train
  std::string checkpoint = "best.pt"; ///< best.pt or checkpoint.pt
  std::string out;                    ///< output directory (default: <run>/heatmaps)
  std::string device = "auto";
  int64_t first = 0;                  ///< index of the first example explained
  int64_t limit = 8;                  ///< examples explained
  std::vector<std::string> methods;   ///< empty = every method that applies to the model
  std::string target;                 ///< class name or index ("" = the predicted class)
  ExplainOptions options;
};

struct HeatmapSummary {
  std::string out_dir;
  std::string index_html;
  int64_t examples = 0;
  std::vector<std::string> methods;
  int64_t files = 0;
  std::string terminal;  ///< text runs: each text with its tokens coloured (ANSI), for a terminal
};

/// What selects a run's explanation methods: the architecture ("attncnn",
/// "vit", "text_transformer", ...) or, for image + text runs, the fusion ("cross", "film", ...).
std::string model_kind(const train::TrainedRun& run);

/// The class `target` names (a class name or an index), -1 for "" (the
/// predicted class). Throws focus::Error listing the classes otherwise.
int64_t class_index(const std::string& target, const std::vector<std::string>& names);
/// `requested` (all of `applicable` when empty), each checked to apply; throws
/// focus::Error naming the methods that do.
std::vector<std::string> checked_methods(const std::vector<std::string>& requested,
                                         const std::vector<std::string>& applicable, const std::string& arch);

/// Throws focus::Error for a run that is not an image or text classifier, an
/// unknown or inapplicable method (listing those that apply), a bad class or range.
HeatmapSummary run_heatmaps(const HeatmapRequest& request);

}  // namespace focus::explain
