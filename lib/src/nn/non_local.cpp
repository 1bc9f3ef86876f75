#include "focus/nn/non_local.h"

#include <algorithm>

namespace focus::nn {

NonLocalImpl::NonLocalImpl(const NonLocalOptions& options_) : options(options_) { reset(); }

void NonLocalImpl::reset() {
  const int64_t c = options.channels();
  TORCH_CHECK(c > 0, "NonLocal: channels must be positive, got ", c);
  const int64_t inner = options.inter_channels() > 0 ? options.inter_channels() : std::max<int64_t>(c / 2, 1);
  auto conv1x1 = [](int64_t in, int64_t out) { return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)); };
  theta = register_module("theta", conv1x1(c, inner));
  phi = register_module("phi", conv1x1(c, inner));
  g = register_module("g", conv1x1(c, inner));
  w_z = register_module("w_z", conv1x1(inner, c));
  bn = register_module("bn", torch::nn::BatchNorm2d(c));
  torch::nn::init::zeros_(bn->weight);
  torch::nn::init::zeros_(bn->bias);
}

void NonLocalImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::nn::NonLocal(channels=" << options.channels() << ", inter_channels="
         << (options.inter_channels() > 0 ? options.inter_channels() : std::max<int64_t>(options.channels() / 2, 1))
         << ")";
}

NonLocalOutput NonLocalImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), "NonLocal: expected [B, ", options.channels(),
              ", H, W], got ", x.sizes());
  const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  auto t = theta(x).flatten(2).transpose(1, 2);  // [B, HW, C']
  auto p = phi(x).flatten(2);                    // [B, C', HW]
  auto v = g(x).flatten(2).transpose(1, 2);      // [B, HW, C']
  auto affinity = torch::softmax(torch::bmm(t, p), -1);  // [B, HW, HW]
  auto y = torch::bmm(affinity, v).transpose(1, 2).reshape({b, -1, h, w});
  return {bn(w_z(y)) + x, affinity};
}

}  // namespace focus::nn
