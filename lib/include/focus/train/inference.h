#pragma once
// One pass of a classifier over a data source, without gradients: class
// probabilities, targets, mean loss and accuracy. Used for validation during
// training and by focus-eval.
#include "focus/data/batch_source.h"
#include "focus/models/classifier.h"

namespace focus::train {

struct InferenceResult {
  torch::Tensor probabilities;  ///< float [N, num_classes], on the CPU
  torch::Tensor targets;        ///< int64 [N], on the CPU
  double loss = 0;              ///< mean cross-entropy (no label smoothing)
  double accuracy = 0;          ///< top-1
};

InferenceResult run_inference(models::Classifier& model, const data::BatchSource& source, const torch::Device& device);

}  // namespace focus::train
