#pragma once
// Explanations of one image classified by a Focus model: which methods apply
// to which architecture, and the map each method gives, over the input image.
//   attention     a raw map the model computes: an AttnCNN spatial map
//                 (CBAM, attention pooling; --layer picks one) or a ViT layer's
//                 [CLS] -> patch attention (--layer encoder.layerN, --head N or all heads' mean)
//   rollout       attention rollout over the ViT's layers, [CLS] row
//   grad_rollout  gradient-weighted rollout (Chefer et al. 2021), class-specific
//   gradcam       Grad-CAM on an AttnCNN stage (--layer stageN; default the last)
//   occlusion     model-agnostic: the probability drop under a sliding patch
#include <string>
#include <vector>

#include "focus/explain/occlusion.h"
#include "focus/explain/rollout.h"
#include "focus/models/classifier.h"

namespace focus::explain {

struct ExplainOptions {
  std::string layer;           ///< attention/gradcam: which map or stage ("" = the method's default)
  int64_t head = -1;           ///< attention on a Transformer: one head (-1 = mean of all)
  RolloutOptions rollout;      ///< rollout: head fusion and discard ratio
  OcclusionOptions occlusion;  ///< occlusion: patch, stride, baseline
};

/// The map called `wanted` among `layers`, or the last one when `wanted` is "".
/// Throws focus::Error "--layer X: no such <what> (the model has: ...)".
const models::NamedAttention& choose_layer(const std::vector<const models::NamedAttention*>& layers,
                                           const std::string& wanted, const std::string& what);

/// The methods that apply to an image model of architecture `arch`, in a fixed order.
std::vector<std::string> image_methods(const std::string& arch);

struct ImageMap {
  torch::Tensor map;   ///< [h, w] at the method's own resolution (not normalised)
  std::string source;  ///< what it was computed from, e.g. "stage3" or "encoder.layer2 head mean"
};

/// One method's map for the single image in `batch` (inputs [1, C, H, W]) and
/// class `target`. Throws focus::Error naming the methods that do apply when
/// `method` does not, and the available layers when `options.layer` is unknown.
ImageMap explain_image(models::Classifier& model, const std::string& arch, const data::Batch& batch,
                       const std::string& method, int64_t target, const ExplainOptions& options = {});

}  // namespace focus::explain
