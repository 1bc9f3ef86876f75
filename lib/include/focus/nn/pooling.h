#pragma once
// Means and maxima over the positions or over the channels of a feature map
// [B, C, H, W], the descriptors that SE and CBAM attention are built from.
//
// The values are ATen's (x.mean({2, 3}), x.amax({2, 3}), x.mean(1, true),
// x.amax(1, true)); the backward passes are cheaper. ATen's mean backward
// writes the broadcast gradient out in full and its amax backward builds an
// equality mask, counts the ties and divides: on a channels-last
// [128, 128, 7, 7] map at 2 threads (2026-12-03, AVX-512 EPYC VM, a probe
// outside the repository) that is 0.52 ms for mean({2, 3}) and 1.15 ms for
// amax({2, 3}) against 0.06 ms for either forward pass, and it made CBAM's
// backward pass 4 ms of a Fashion AttnCNN training step. Here a mean's
// gradient is the incoming one broadcast as a view (what the branch's other
// gradient is added to), and a maximum's goes to the first position that holds
// it, as torch.max(dim) does (amax splits it evenly among ties; both are
// gradients of the maximum where it is unique).
//
// The means work on any device. A maximum that records a graph over a float32
// or float64 CPU tensor takes ATen's amax for the values and a loop for the
// first index holding each (split over the intra-op threads by image); without
// a graph, and for other tensors (CUDA, half), it is ATen's amax alone, whose
// gradient differs only at ties. No forward-mode AD (dual tensors) through these
// functions.
#include <torch/types.h>

namespace focus::nn {

/// Mean over the positions: [B, C, H, W] -> [B, C].
torch::Tensor spatial_mean(const torch::Tensor& x);

/// Maximum over the positions: [B, C, H, W] -> [B, C].
torch::Tensor spatial_max(const torch::Tensor& x);

/// Mean over the channels: [B, C, H, W] -> [B, 1, H, W].
torch::Tensor channel_mean(const torch::Tensor& x);

/// Maximum over the channels: [B, C, H, W] -> [B, 1, H, W].
torch::Tensor channel_max(const torch::Tensor& x);

}  // namespace focus::nn
