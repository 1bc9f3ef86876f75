#include "focus/nn/conv2d.h"

#include <ATen/Context.h>
#include <ATen/ops/mkldnn_convolution.h>

#include "focus/nn/winograd_conv2d.h"

namespace focus::nn {

namespace {

// ATen sends a convolution to its native path when the batch has one image,
// the input is small and the kernel is at most 3x3 (Convolution.cpp,
// use_mkldnn): the cases handled here.
constexpr int64_t kNativeMaxInput = 20480;

/// Whether autograd records this call.
bool records_graph(const torch::nn::Conv2dImpl& conv, const torch::Tensor& x) {
  return torch::GradMode::is_enabled() && (x.requires_grad() || conv.weight.requires_grad() ||
                                           (conv.bias.defined() && conv.bias.requires_grad()));
}

/// One group, not transposed, zero padding given as numbers: what both oneDNN paths accept.
bool plain_zero_padded(const torch::nn::detail::ConvNdOptions<2>& o) {
  return o.groups() == 1 && !o.transposed() && c10::holds_alternative<torch::ExpandingArray<2>>(o.padding()) &&
         c10::holds_alternative<torch::enumtype::kZeros>(o.padding_mode());
}

}  // namespace

bool uses_onednn_directly(const torch::nn::Conv2dImpl& conv, const torch::Tensor& x) {
  const auto& w = conv.weight;
  if (!at::hasMKLDNN() || !x.device().is_cpu() || x.scalar_type() != torch::kFloat || x.dim() != 4) return false;
  if (x.size(0) != 1 || x.numel() > kNativeMaxInput || !plain_zero_padded(conv.options)) return false;
  if (w.size(2) * w.size(3) == 1 || w.size(2) > 3 || w.size(3) > 3 || w.size(1) < kMinOneDnnChannels) return false;
  // oneDNN's call here has no autograd formula of its own: only outside a graph.
  return !records_graph(conv, x);
}

bool winograd_candidate(const torch::nn::Conv2dImpl& conv, const torch::Tensor& x) {
  const auto& o = conv.options;
  if (!records_graph(conv, x) || x.dim() != 4 || x.size(0) < kMinWinogradBatch || conv.bias.defined() ||
      !plain_zero_padded(o))
    return false;
  auto ones = [](const torch::ExpandingArray<2>& a) { return (*a)[0] == 1 && (*a)[1] == 1; };
  return conv.weight.dim() == 4 && conv.weight.size(1) >= kMinWinogradChannels && conv.weight.size(2) == 3 &&
         conv.weight.size(3) == 3 &&
         ones(c10::get<torch::ExpandingArray<2>>(o.padding())) && ones(o.stride()) && ones(o.dilation());
}

torch::Tensor conv2d(const torch::nn::Conv2d& conv, const torch::Tensor& x) {
  if (winograd_candidate(*conv, x))
    if (auto y = winograd_conv2d(x, conv->weight)) return *y;
  if (!uses_onednn_directly(*conv, x)) return conv.ptr()->forward(x);
  const auto& o = conv->options;
  const auto& padding = c10::get<torch::ExpandingArray<2>>(o.padding());
  return at::mkldnn_convolution(x, conv->weight, conv->bias, *padding, *o.stride(), *o.dilation(), 1);
}

}  // namespace focus::nn
