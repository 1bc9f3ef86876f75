#include "focus/nn/masked_softmax.h"

#include <limits>

namespace focus::nn {

torch::Tensor masked_softmax(const torch::Tensor& scores, const torch::Tensor& keep) {
  if (!keep.defined()) return torch::softmax(scores, -1);
  auto masked = scores.masked_fill(keep.logical_not(), -std::numeric_limits<float>::infinity());
  auto weights = torch::softmax(masked, -1);
  // Fully masked rows give NaN (exp(-inf)/0): make them all-zero instead.
  return weights.masked_fill(keep.logical_not(), 0.0);
}

}  // namespace focus::nn
