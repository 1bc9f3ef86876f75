#pragma once
// 3x3 convolutions (stride 1, padding 1) on oneDNN's Winograd kernels, with
// their own autograd.
//
// ATen sends every CPU float32 convolution to oneDNN's direct algorithm. For
// 3x3 kernels oneDNN also has Winograd F(4x4, 3x3) kernels (AVX-512 CPUs:
// "jit_wino_4x3"), for the forward pass and both gradients, which do about a
// third of the multiplications. They read and write oneDNN's blocked layouts,
// so every call reorders its operands; measured at batch 128, 2 threads,
// channels-last (2026-12-03, AVX-512 EPYC VM, a probe outside the repository,
// forward + gradient of the input + gradient of the weight, reorders included):
//   128 -> 128 channels at 7x7:  direct 3.59 + 4.22 + 3.94 = 11.7 ms,
//                                Winograd 3.05 + 3.04 + 3.28 = 9.4 ms;
//   64 -> 64 at 14x14:           direct 4.58 + 4.49 + 4.32 = 13.4 ms,
//                                Winograd 3.46 + 3.64 + 5.62 = 12.7 ms.
// So the weight's gradient takes Winograd only on maps of at most
// kMaxWinogradWeightGradPositions positions, and ATen's direct kernel above.
//
// Used when Focus is built with oneDNN's header (scripts/setup.sh installs
// libdnnl-dev), the CPU has the kernels, and FOCUS_CONV is not "direct". Where
// oneDNN has no Winograd kernel for the CPU or the shape (CPUs without AVX-512,
// shapes its kernels decline), winograd_conv2d returns nothing and the caller
// takes ATen's convolution; a backward primitive it declines falls back to
// ATen's convolution_backward. Under create_graph the backward pass uses ATen's
// convolution_backward too, so second-order gradients still work. No
// forward-mode AD (dual tensors).
#include <torch/types.h>

#include <optional>

namespace focus::nn {

/// Fewest images in a batch for which conv2d() tries the Winograd kernels.
inline constexpr int64_t kMinWinogradBatch = 16;

/// Fewest input channels for which conv2d() tries them: oneDNN has a Winograd
/// kernel for a one-channel stem too, but it took 1.6 ms at batch 128 on 28x28
/// against 0.24 ms direct (same VM).
inline constexpr int64_t kMinWinogradChannels = 16;

/// Largest map (H x W) whose weight gradient takes the Winograd kernel.
inline constexpr int64_t kMaxWinogradWeightGradPositions = 64;

/// Whether the process may use Winograd kernels: built with oneDNN's header and
/// FOCUS_CONV is unset, empty or "winograd" ("direct" turns them off; anything
/// else is an error). Read once.
bool winograd_enabled();

/// conv2d(x, weight, no bias, stride 1, padding 1) for x [B, C, H, W] and weight
/// [O, C, 3, 3], both float32 CPU tensors of any strides; the result has x's
/// memory format. Nothing when oneDNN has no Winograd kernel for this CPU and
/// shape, or when winograd_enabled() is false.
std::optional<torch::Tensor> winograd_conv2d(const torch::Tensor& x, const torch::Tensor& weight);

}  // namespace focus::nn
