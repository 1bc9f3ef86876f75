#include "focus/explain/grad_cam.h"

namespace focus::explain {

torch::Tensor grad_cam(const torch::Tensor& activation, const torch::Tensor& gradient) {
  TORCH_CHECK(activation.dim() == 4 && gradient.sizes() == activation.sizes(),
              "grad_cam: activation and gradient must be [B, C, h, w] of the same shape, got ", activation.sizes(),
              " and ", gradient.sizes());
  torch::NoGradGuard no_grad;
  auto alpha = gradient.detach().mean({2, 3}, /*keepdim=*/true);  // [B, C, 1, 1]
  return torch::relu((alpha * activation.detach()).sum(1));
}

}  // namespace focus::explain
