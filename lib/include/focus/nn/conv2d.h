#pragma once
// conv(x) for a torch::nn::Conv2d, with oneDNN's kernel where ATen's own
// choice is the slow one.
//
// When autograd records the call (training, or gradients with respect to the
// input such as saliency maps), batches of at least kMinWinogradBatch images through a 3x3
// convolution with stride 1, padding 1, one group, no bias and at least
// kMinWinogradChannels input channels try oneDNN's Winograd kernels first
// (winograd_conv2d.h). Not in evaluation: there they made the Fashion AttnCNN
// slower at batch 500 (4,251 against 4,700 images/s) and raised the benchmark's
// peak RSS from 505 to 628 MiB (their blocked copies and transform buffers).
//
// For a single CPU float32 image with a small input (at most 20,480 values)
// and a kernel no larger than 3x3, ATen's convolution (LibTorch 1.13) takes
// its native im2col + GEMM path instead of oneDNN's, one BLAS call on one
// core. That is what a batch-1 request to an image model hits. Measured on
// this project's 2-core VM (`bash bench/run.sh ops`, docs/BENCHMARKS.md): a
// 3x3 convolution 64 -> 64 at 14x14 takes 149-215 us that way and 70-100 us in
// oneDNN; 128 -> 128 at 7x7, 171-214 against 102-138 us. With one input
// channel or a 1x1 kernel the native path is as fast or faster (6-15 us), and
// for 16 channels in NCHW at 2 threads oneDNN is slower (72 against 61 us, the
// one loss). So without autograd (inference mode or no-grad: an evaluation or
// a served request), a single image, a kernel of more than one
// tap and at least kMinOneDnnChannels input channels go to oneDNN directly;
// everything else (training, batches, which ATen already sends to oneDNN,
// CUDA, other dtypes, padding modes other than zeros) is the module's forward.
#include <torch/nn/modules/conv.h>
#include <torch/types.h>

namespace focus::nn {

/// Input channels from which a batch-1 convolution goes to oneDNN.
inline constexpr int64_t kMinOneDnnChannels = 16;

/// Whether conv2d() tries the Winograd kernels for this convolution (the shape
/// test; winograd_conv2d() may still find no kernel and decline).
bool winograd_candidate(const torch::nn::Conv2dImpl& conv, const torch::Tensor& x);

/// Whether conv2d() sends this convolution to oneDNN directly.
bool uses_onednn_directly(const torch::nn::Conv2dImpl& conv, const torch::Tensor& x);

/// The same result as conv(x) (up to float rounding).
torch::Tensor conv2d(const torch::nn::Conv2d& conv, const torch::Tensor& x);

}  // namespace focus::nn
