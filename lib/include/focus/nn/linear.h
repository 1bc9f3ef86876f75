#pragma once
// y = x W^T + b through ATen's linear, which fuses the bias into the matrix
// product (addmm) for inputs of any rank. The C++ frontend's Linear::forward
// does so only for 2-D inputs: for [B, L, E] it runs a matmul and then adds the
// bias in a second pass over the output (PyTorch's Python Linear does not).
#include <ATen/ops/linear.h>
#include <torch/nn/modules/linear.h>

namespace focus::nn {

inline torch::Tensor linear(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return at::linear(x, layer->weight, layer->bias);
}

}  // namespace focus::nn
