#pragma once
// Grad-CAM (Selvaraju et al. 2017): a class-specific map over a convolution
// stage, ReLU(sum_c alpha_c A_c) with alpha_c the spatial mean of dy/dA_c.
#include <torch/types.h>

namespace focus::explain {

/// activation and gradient: [B, C, h, w]. Returns [B, h, w] (non-negative).
torch::Tensor grad_cam(const torch::Tensor& activation, const torch::Tensor& gradient);

}  // namespace focus::explain
