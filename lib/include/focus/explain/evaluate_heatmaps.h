#pragma once
// focus-heatmap --evaluate: how faithful each method's maps are on a split of
// a trained run. Image and text runs: deletion and insertion AUC (Petsiuk et
// al. 2018) for the predicted class, per method and for a random order (the
// baseline). Image + text runs: the pointing game on questions that refer to
// one object (the map's maximum inside that object's box), with the centre and
// random-point baselines. Writes faithfulness.json.
#include <string>
#include <vector>

#include "focus/explain/faithfulness.h"
#include "focus/explain/run_heatmaps.h"

namespace focus::explain {

struct MethodScore {
  std::string method;        ///< a method, or "random" / "center" for a baseline
  std::string map;           ///< which map of the method was scored (text: e.g. "rollout")
  int64_t examples = 0;
  double deletion_auc = 0;   ///< mean over examples (image and text runs)
  double insertion_auc = 0;  ///< mean over examples (image and text runs)
  int64_t hits = 0;          ///< pointing game: maxima inside the referred object's box
  double hit_rate = 0;       ///< pointing game: hits / examples
};

struct FaithfulnessReport {
  std::string kind;                 ///< "deletion_insertion" or "pointing_game"
  std::vector<MethodScore> scores;  ///< the methods in request order, then the baselines
  std::string json_path;            ///< faithfulness.json
  std::string table;                ///< the scores as an aligned text table
};

/// Scores `request.methods` (default: all that apply) on examples
/// request.first .. first + limit of the split. Throws focus::Error as run_heatmaps does.
FaithfulnessReport evaluate_heatmaps(const HeatmapRequest& request, const FaithfulnessOptions& options = {});

}  // namespace focus::explain
