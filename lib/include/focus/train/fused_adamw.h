#pragma once
// AdamW with every parameter's update in one sweep.
//
// LibTorch's torch::optim::AdamW updates each parameter with seven ATen calls
// (decay, two moment updates, square root, division, epsilon, addcdiv), each a
// pass over the parameter and most of them a new tensor: on the Fashion AttnCNN
// (46 parameters, 0.7M values) that is about 300 small operator calls a step.
// FusedAdamW computes the same update (Loshchilov & Hutter's decoupled weight
// decay, with PyTorch's ordering: decay first, then the bias-corrected Adam
// step) for all float32 CPU parameters in one loop over their values, split over
// LibTorch's intra-op threads, reading each value once and writing it once.
//
// It is a torch::optim::AdamW: the same options, parameter groups, state
// (AdamWParamState: step, exp_avg, exp_avg_sq) and serialised form, so
// checkpoints load in either. Parameters the loop does not cover (other dtypes
// or devices, a gradient whose memory layout differs from its parameter's,
// amsgrad) take ATen's calls, as torch::optim::AdamW does; so does every
// parameter of a step in which two of them share memory (tied weights). Results match
// torch::optim::AdamW to float32 rounding (not bit for bit: the loop divides
// once where ATen rounds after each call).
#include <torch/optim/adamw.h>

namespace focus::train {

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace focus::train
