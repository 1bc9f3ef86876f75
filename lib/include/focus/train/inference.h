#pragma once
// One pass of a classifier over a data source, without gradients: class
// probabilities, targets, mean loss and accuracy. Used for validation during
// training and by focus-eval.
#include "focus/data/batch_source.h"
#include "focus/models/classifier.h"

namespace focus::train {

struct InferenceResult {
  torch::Tensor probabilities;  ///< float [N, num_classes], on the CPU (when kept)
  torch::Tensor targets;        ///< int64 [N], on the CPU (when kept)
  int64_t count = 0;            ///< predictions made
  double loss = 0;              ///< mean cross-entropy (no label smoothing)
  double accuracy = 0;          ///< top-1
};

struct InferenceOptions {
  /// Keep every example's probabilities and target. Without it only loss and
  /// accuracy are computed (memory stays small for a masked LM, whose
  /// "classes" are the vocabulary).
  bool keep_probabilities = true;
  /// Test-time augmentation: average the class probabilities of each image
  /// and its left-right mirror image. Needs image inputs [B, C, H, W].
  bool average_flipped = false;
};

InferenceResult run_inference(models::Classifier& model, const data::BatchSource& source, const torch::Device& device,
                              const InferenceOptions& options = {});

}  // namespace focus::train
