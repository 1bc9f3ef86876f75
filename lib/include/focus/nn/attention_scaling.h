#pragma once
// The element-wise halves of SE and CBAM attention, each one pass over the
// feature map forward and one backward.
//
// Written with ATen operators, CBAM's x * channel * spatial and its channel
// descriptor cat(mean_c(x * channel), max_c(x * channel)) make about six
// passes over a [B, C, H, W] map forward and a dozen backward (products,
// broadcast reductions, the gradients' sums). On a channels-last
// [128, 128, 7, 7] map at 2 threads (2026-12-03, AVX-512 EPYC VM, a probe
// outside the repository) CBAM's forward + backward took 2.7 ms after
// pooling.h's cheaper pooling, next to 11 ms for one of the block's 3x3
// convolutions. Here each operator is a loop over channels-last memory that
// computes every gradient it owes in one sweep.
//
// Float32 channels-last CPU maps take the loops (split over the intra-op
// threads by image); anything else, and backward passes under create_graph,
// take the same formulas in ATen operators, so the results and gradients are
// the same up to float rounding. No forward-mode AD (dual tensors) on the loops.
#include <torch/types.h>

namespace focus::nn {

/// x * channel_weights[:, :, None, None] (* spatial_map): x [B, C, H, W],
/// channel_weights [B, C], spatial_map [B, 1, H, W] or undefined.
torch::Tensor scale_by_attention(const torch::Tensor& x, const torch::Tensor& channel_weights,
                                 const torch::Tensor& spatial_map = {});

/// CBAM's spatial descriptor of x scaled by channel_weights: [B, 2, H, W], the
/// mean over the channels, then the maximum (its gradient to the first channel
/// that holds it), of x * channel_weights[:, :, None, None].
torch::Tensor scaled_channel_descriptor(const torch::Tensor& x, const torch::Tensor& channel_weights);

}  // namespace focus::nn
