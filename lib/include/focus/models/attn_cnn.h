#pragma once
// An attention-augmented residual CNN: a 3x3 stem, then stages of residual
// blocks, each stage with its own attention (none, SE, CBAM or non-local),
// then attention pooling (or average pooling) over positions, dropout and a
// linear classifier.
#include <string>
#include <vector>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include "focus/models/classifier.h"
#include "focus/nn/attention_pool.h"
#include "focus/nn/cbam.h"
#include "focus/nn/non_local.h"
#include "focus/nn/squeeze_excitation.h"
#include "focus/util/json_reader.h"

namespace focus::models {

struct StageOptions {
  int64_t channels = 64;          ///< output channels of every block in the stage
  int64_t blocks = 1;             ///< residual blocks in the stage
  int64_t stride = 2;             ///< stride of the stage's first block (1 or 2)
  std::string attention = "none"; ///< "none", "se", "cbam" or "nonlocal"
};

struct AttnCNNOptions {
  int64_t in_channels = 1;        ///< image channels (set from the data)
  int64_t num_classes = 10;       ///< classes (set from the data)
  int64_t stem_channels = 32;     ///< width of the 3x3 stem convolution
  std::vector<StageOptions> stages = {{32, 1, 1, "none"}, {64, 1, 2, "se"}, {128, 1, 2, "cbam"}};
  std::string head = "attention_pool";  ///< "attention_pool" or "avg"
  double dropout = 0.1;           ///< dropout before the classifier
  int64_t reduction = 8;          ///< SE/CBAM bottleneck ratio
  bool zero_init_residual = false;///< start each residual branch's last BN at zero (Goyal et al. 2017)
};

/// Reads a `stages` array (channels required; blocks, stride 1|2, attention); errors name `context`.
std::vector<StageOptions> parse_stages(const util::Json& stages, const std::string& context);
util::Json to_json(const std::vector<StageOptions>& stages);

AttnCNNOptions parse_attn_cnn_options(const util::Json& json, const std::string& context);
util::Json to_json(const AttnCNNOptions& options);

/// conv3x3-BN-ReLU-conv3x3-BN, SE/CBAM on the residual branch, identity or
/// 1x1 projection shortcut, ReLU, then a non-local block if asked for.
class ResidualBlockImpl : public torch::nn::Cloneable<ResidualBlockImpl> {
 public:
  ResidualBlockImpl(int64_t in, int64_t out, int64_t stride, std::string attention, int64_t reduction,
                    bool zero_init);
  void reset() override;
  /// Appends the block's attention maps to `maps` when it is not null.
  torch::Tensor forward(const torch::Tensor& x, std::vector<NamedAttention>* maps, const std::string& name);

  int64_t in, out, stride, reduction;
  bool zero_init;
  std::string attention;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential shortcut{nullptr};
  nn::SqueezeExcitation se{nullptr};
  nn::Cbam cbam{nullptr};
  nn::NonLocal nonlocal{nullptr};
};
TORCH_MODULE(ResidualBlock);

class AttnCNNImpl : public Classifier {
 public:
  explicit AttnCNNImpl(AttnCNNOptions options);
  torch::Tensor forward(const data::Batch& batch) override;
  ClassifierOutput forward_with_attention(const data::Batch& batch) override;
  /// The network on an image tensor [B, C, H, W]; appends attention maps and
  /// each stage's output ("stage1", ...) when asked.
  torch::Tensor forward_images(const torch::Tensor& images, std::vector<NamedAttention>* maps = nullptr,
                               std::vector<NamedAttention>* activations = nullptr);
  void pretty_print(std::ostream& stream) const override;

  AttnCNNOptions options;
  torch::nn::Conv2d stem{nullptr};
  torch::nn::BatchNorm2d stem_bn{nullptr};
  std::vector<ResidualBlock> blocks;
  std::vector<std::string> block_names;
  nn::AttentionPool pool{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear classifier{nullptr};
};

}  // namespace focus::models
