#pragma once
// The loops behind attention_scaling.h and Cbam's fused path, over float32
// feature maps in channels-last memory read as [B, P, C] (P = H * W positions).
// Each loop runs image by image, split over the intra-op threads when `split`
// (see split_over_threads.h). A null output pointer skips that output. Private
// to lib/src/nn; defined in attention_scaling.cpp.
#include <torch/types.h>

#include <cstdint>

namespace focus::nn::detail {

/// A map x [B, C, H, W] in channels-last memory, read as [B, P, C].
struct MapShape {
  int64_t batch, positions, channels;
};

inline MapShape shape_of(const torch::Tensor& x) { return {x.size(0), x.size(2) * x.size(3), x.size(1)}; }

/// out = x * cw (* sm): cw [B, C], sm [B, P] or null.
void scale_rows(const float* x, const float* cw, const float* sm, float* out, const MapShape& s, bool split);

/// The gradients of x * cw (* sm) for the incoming g: gx = g * cw * sm, gw[b, c] = sum_p g * x * sm,
/// gs[b, p] = sum_c g * x * cw.
void scale_gradient_rows(const float* g, const float* x, const float* cw, const float* sm, float* gx, float* gw,
                         float* gs, const MapShape& s, bool split);

/// CBAM's descriptor of x * cw: desc [B, 2, P] (the mean over the channels, then the maximum) and
/// at [B, P], the first channel holding each maximum (NaN winning, as in ATen).
void descriptor_rows(const float* x, const float* cw, float* desc, int64_t* at, const MapShape& s, bool split);

/// The gradients of that descriptor for the incoming g_desc [B, 2, P]: gx (the mean's share to every
/// channel, the maximum's to its channel) and gw[b, c] = sum over the positions of what x * cw receives, times x.
void descriptor_gradient_rows(const float* g_desc, const float* x, const float* cw, const int64_t* at, float* gx,
                              float* gw, const MapShape& s, bool split);

}  // namespace focus::nn::detail
