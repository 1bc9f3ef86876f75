#pragma once
// The interface every Focus classifier implements, so that one trainer, one
// evaluator and (later) one explainer serve them all.
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "focus/data/batch.h"

namespace focus::models {

/// One attention map a model exposes, named by where it comes from
/// (e.g. "stage2.block0.cbam.spatial").
struct NamedAttention {
  std::string name;
  torch::Tensor weights;
};

struct ClassifierOutput {
  torch::Tensor logits;                  ///< [B, num_classes]
  std::vector<NamedAttention> attention; ///< every attention map, in forward order
  /// Feature maps of convolution stages ([B, C, h, w], in the graph, e.g. "stage3";
  /// FusionNet's "image.grid" has one row per distinct image of the batch),
  /// for gradient explanations such as Grad-CAM; empty for models without any.
  std::vector<NamedAttention> activations;
};

/// Appends a Transformer encoder's per-layer weights as "encoder.layer0", "encoder.layer1", ...
inline void append_encoder_attention(std::vector<NamedAttention>& maps, const std::vector<torch::Tensor>& layers) {
  for (size_t i = 0; i < layers.size(); ++i) maps.push_back({"encoder.layer" + std::to_string(i), layers[i]});
}

class Classifier : public torch::nn::Module {
 public:
  /// Logits [B, num_classes] for a batch.
  virtual torch::Tensor forward(const data::Batch& batch) = 0;
  /// Logits plus every attention map the model computes.
  virtual ClassifierOutput forward_with_attention(const data::Batch& batch) = 0;
};

}  // namespace focus::models
