#pragma once
// Softmax over the last dimension that ignores masked-out entries and returns
// zeros (instead of NaN) for rows where everything is masked.
#include <torch/types.h>

namespace focus::nn {

/// scores: [..., N]; keep: bool broadcastable to scores, true = attend.
torch::Tensor masked_softmax(const torch::Tensor& scores, const torch::Tensor& keep);

/// The same, but adds the mask into `scores` in place, saving a pass over a
/// large tensor: for a temporary the caller no longer reads (attention scores
/// straight out of a matmul, which no backward needs).
torch::Tensor masked_softmax_(torch::Tensor scores, const torch::Tensor& keep);

}  // namespace focus::nn
