#pragma once
// A finished (or interrupted) run loaded back from its directory: the
// resolved recipe, label names, what the model reads (input.json), the
// normalisation (image runs) or tokenizer (text runs), and the model with its
// weights.
#include <memory>
#include <string>
#include <vector>

#include "focus/data/normalization.h"
#include "focus/data/tokenizer.h"
#include "focus/models/classifier.h"
#include "focus/models/factory.h"
#include "focus/train/recipe.h"
#include "focus/util/run_directory.h"

namespace focus::train {

struct TrainedRun {
  util::RunDirectory dir;
  Recipe recipe;
  std::vector<std::string> class_names;        ///< empty for a masked LM
  models::InputSpec input;
  data::Normalization normalization;           ///< image runs
  std::shared_ptr<data::Tokenizer> tokenizer;  ///< text runs
  std::shared_ptr<models::Classifier> model;   ///< in eval mode, on the requested device
};

/// `checkpoint` is a file name inside the run ("best.pt" or "checkpoint.pt").
TrainedRun load_trained_run(const std::string& run_dir, const std::string& checkpoint, const torch::Device& device);

}  // namespace focus::train
