#pragma once
// Occlusion (Zeiler & Fergus 2014): a model-agnostic map from forward calls
// only. A square patch set to a baseline value slides over the image; each
// pixel's score is the mean drop of the target class probability over the
// patch positions that cover it. Works for any classifier given as a function
// from images to probabilities (a Focus model or a TorchScript module).
#include <functional>

#include <torch/types.h>

namespace focus::explain {

struct OcclusionOptions {
  int64_t patch = 4;        ///< side of the occluding square, pixels
  int64_t stride = 2;       ///< step between patch positions, pixels
  double baseline = 0.0;    ///< value written into the patch (0 = the training mean for normalised input)
  int64_t batch_size = 64;  ///< occluded copies per forward call
};

/// probabilities: images [N, C, H, W] -> class probabilities [N, K].
using ProbabilityFn = std::function<torch::Tensor(const torch::Tensor&)>;

/// image: [C, H, W] (as the model reads it). Returns [H, W]: the mean drop in
/// the probability of `target` (may be negative where occlusion helps).
torch::Tensor occlusion_map(const ProbabilityFn& probabilities, const torch::Tensor& image, int64_t target,
                            const OcclusionOptions& options = {});

}  // namespace focus::explain
