#pragma once
// Batch normalisation of a feature map, with the ReLU that usually follows it
// folded in: what torch::nn::BatchNorm2d's forward and then torch::relu compute,
// running statistics included, in fewer passes over the map.
//
// ATen normalises a channels-last map in three passes (statistics, then the
// affine map) and the ReLU takes another read and write each way; its backward
// pass reads the gradient, the map and the mask again. On the 2-core AVX-512 VM
// (2026-12-03, a probe outside the repository) a [128, 16, 28, 28] map took
// 1.6 ms forward and backward for BatchNorm2d + ReLU, a [128, 64, 14, 14] one
// 1.2 ms: about 7 ms of a Fashion AttnCNN training step. Here, for a float32
// CPU map in channels-last memory:
//   - training: one pass for the per-channel mean and variance (shifted sums in
//     float32 over blocks of rows, added up in float64), one for
//     y = max(0, x * scale + shift); the backward pass reads the gradient and
//     the input twice (the two per-channel sums, then the input gradient) and
//     recomputes the ReLU's mask from the input;
//   - evaluation (running statistics), without a graph: one pass.
// Both split the rows over LibTorch's intra-op threads. Anything else (other
// dtypes or devices, contiguous NCHW memory, no affine parameters or running
// statistics, a graph in evaluation mode) takes BatchNorm2d's forward and
// torch::relu. A second derivative (create_graph) recomputes the forward pass
// in ATen operators and differentiates that. No forward-mode AD.
#include <torch/nn/modules/batchnorm.h>

namespace focus::nn {

/// bn(x), then torch::relu when `relu`: x [B, C, H, W]. Updates bn's running
/// statistics in training mode, as bn's forward does.
torch::Tensor batch_norm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, bool relu = false);

}  // namespace focus::nn
