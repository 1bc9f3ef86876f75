#pragma once
// Vision Transformer (Dosovitskiy et al. 2021): non-overlapping patches
// embedded by a strided convolution, a learned [CLS] token and learned
// positions, the pre-norm Transformer encoder from nn, and a linear head on
// the final [CLS] state. Input batch: inputs = images [B, C, H, W].
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include "focus/models/classifier.h"
#include "focus/nn/transformer_encoder.h"
#include "focus/util/json_reader.h"

namespace focus::models {

struct VisionTransformerOptions {
  int64_t in_channels = 1;     ///< set from the data
  int64_t image_height = 28;   ///< set from the data
  int64_t image_width = 28;    ///< set from the data
  int64_t num_classes = 10;    ///< set from the data
  int64_t patch = 4;           ///< patch side; must divide the image sides
  int64_t dim = 128;           ///< model width
  int64_t layers = 4;          ///< encoder layers
  int64_t heads = 4;           ///< attention heads
  int64_t ff_dim = 0;          ///< feed-forward width (0 = 4 * dim)
  double dropout = 0.1;        ///< embedding and residual dropout
  double attention_dropout = 0.0;
};

VisionTransformerOptions parse_vit_options(const util::Json& json, const std::string& context);
util::Json to_json(const VisionTransformerOptions& options);

class VisionTransformerImpl : public Classifier {
 public:
  explicit VisionTransformerImpl(VisionTransformerOptions options);
  torch::Tensor forward(const data::Batch& batch) override;
  /// Attention maps "encoder.layerN", [B, H, 1 + P, 1 + P] with the [CLS] token first.
  ClassifierOutput forward_with_attention(const data::Batch& batch) override;
  void pretty_print(std::ostream& stream) const override;
  int64_t patches() const;

  VisionTransformerOptions options;
  torch::nn::Conv2d patch_embedding{nullptr};
  torch::Tensor cls_token, positions;
  torch::nn::Dropout dropout{nullptr};
  nn::TransformerEncoder encoder{nullptr};
  torch::nn::Linear classifier{nullptr};

 private:
  torch::Tensor run(const data::Batch& batch, std::vector<NamedAttention>* maps);
};

}  // namespace focus::models
