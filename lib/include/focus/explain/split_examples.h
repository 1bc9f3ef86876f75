#pragma once
// Walking the examples of a trained run's split one at a time, as the
// explainers need them: images as [1, C, H, W] batches, image + text examples
// as one question with its image. Shared by focus-heatmap's pages and --evaluate.
#include <functional>
#include <string>

#include "focus/train/trained_run.h"

namespace focus::explain {

struct SplitExample {
  int64_t index = 0;   ///< position in the split
  data::Batch batch;   ///< one example, on the requested device (targets = its label)
  int64_t label = 0;
  std::string text;    ///< image + text runs: the question
  int64_t line = 0;    ///< image + text runs: its line in the manifest
  std::string origin;  ///< image + text runs: the manifest
};

struct SplitWalk {
  int64_t size = 0;    ///< examples in the split
  std::string origin;  ///< image + text runs: the manifest
};

/// Calls `visit` for examples first .. first + limit - 1 of `split` (fewer at
/// the end of the split). Image and image + text runs only. Throws focus::Error
/// when `first` is past the end.
SplitWalk for_each_example(const train::TrainedRun& run, const std::string& split, int64_t first, int64_t limit,
                           const torch::Device& device, const std::function<void(const SplitExample&)>& visit);

/// A normalised image [1, C, H, W] (or [C, H, W]) back to uint8 pixels [H, W, C].
torch::Tensor input_pixels(const torch::Tensor& input, const data::Normalization& normalization);

/// Softmax probabilities [1, K] of one example, without gradients.
torch::Tensor example_probabilities(models::Classifier& model, const data::Batch& batch);

}  // namespace focus::explain
