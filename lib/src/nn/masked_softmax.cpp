#include "focus/nn/masked_softmax.h"

#include <limits>

#include "focus/nn/small_ops.h"

namespace focus::nn {

namespace {

/// The mask is applied as an additive bias in its own (broadcast) shape: 0 where
/// kept, -inf where dropped. Adding it is one vectorised pass over the scores;
/// masked_fill with a broadcast mask is several times slower on CPU.
torch::Tensor softmax_with_mask(torch::Tensor scores, const torch::Tensor& keep, bool in_place) {
  if (!keep.defined()) return nn::softmax(scores, -1);
  const auto drop = keep.to(torch::kBool).logical_not();
  if (!drop.any().item<bool>()) return nn::softmax(scores, -1);  // common: a batch without padding
  const auto bias =
      torch::zeros(drop.sizes(), scores.options()).masked_fill_(drop, -std::numeric_limits<float>::infinity());
  auto weights = nn::softmax(in_place ? scores.add_(bias) : scores + bias, -1);
  // Fully masked rows come out NaN (exp(-inf) / 0) and are made all-zero. They
  // are rare, so the pass over the weights runs only when one exists.
  const auto empty = drop.all(-1, /*keepdim=*/true);
  return empty.any().item<bool>() ? weights.masked_fill(empty, 0.0) : weights;
}

}  // namespace

torch::Tensor masked_softmax(const torch::Tensor& scores, const torch::Tensor& keep) {
  return softmax_with_mask(scores, keep, false);
}

torch::Tensor masked_softmax_(torch::Tensor scores, const torch::Tensor& keep) {
  return softmax_with_mask(std::move(scores), keep, true);
}

}  // namespace focus::nn
