#pragma once
// focus-heatmap --model: explanations for a TorchScript image classifier, one
// that focus-export wrote or one Focus did not build (saved from Python):
//   occlusion   forward calls only, so it works on any archive;
//   attention   the model's own last spatial map (CBAM, attention pooling, a ViT
//               layer's [CLS] row), from forward_with_attention (Focus exports).
// The output is the same as for a run: overlays, .npy maps, grids,
// heatmaps.json and index.html.
#include <string>
#include <vector>

#include "focus/deploy/script_model.h"
#include "focus/explain/occlusion.h"
#include "focus/explain/run_heatmaps.h"

namespace focus::deploy {

struct ScriptHeatmapRequest {
  std::string model;                 ///< TorchScript archive
  std::vector<std::string> images;   ///< image files or directories
  std::vector<std::string> methods;  ///< empty = every method that applies
  std::string target;                ///< class name or index ("" = the predicted class)
  int64_t limit = 0;                 ///< explain at most this many images (0 = all)
  bool convert_images = false;       ///< resize / convert images that do not match the model (default: an error)
  explain::OcclusionOptions occlusion;
  std::string out = "heatmaps";
  std::string device = "auto";
  ForeignModelOptions foreign;       ///< for an archive without Focus metadata
};

/// Throws focus::Error for an archive that does not read images, a method
/// that does not apply (listing those that do), a bad class or image.
explain::HeatmapSummary run_script_heatmaps(const ScriptHeatmapRequest& request);

}  // namespace focus::deploy
