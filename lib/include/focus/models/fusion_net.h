#pragma once
// FusionNet: answers a text about an image (visual question answering).
//  - image encoder: a 3x3 stem and AttnCNN residual stages give a feature grid;
//    two coordinate channels (x, y in [-1, 1]) are appended and a 1x1
//    convolution projects every grid cell ("region") to `dim`;
//  - text encoder: the TextEncoder of the text classifier over "[CLS] question";
//  - fusion, chosen by `fusion`:
//      concat  attention-pooled regions and the [CLS] state, concatenated, then an MLP;
//      late    the average of an image-only and a text-only classifier's logits;
//      film    the [CLS] state generates gamma and beta of FiLM residual blocks
//              over the region grid (Perez et al. 2017), then max pooling and an MLP;
//      cross   regions attend to each other (relational layers), optionally FiLM
//              blocks condition each question's copy of them on the [CLS] state
//              (conditioning_blocks), then question tokens attend to the regions
//              (cross layers: token self-attention, token -> region attention,
//              feed-forward; optionally a bias from the previous layer's
//              focus, cross_focus_bias); the [CLS] token feeds an MLP.
//              Its maps "cross.layerN" are [Q, heads, L, regions]: question token -> region.
// Input batch (data::MultimodalBatchSource): inputs = token ids [Q, L], mask
// [Q, L], extra["images"] = [I, C, H, W] and extra["image_index"] = [Q]. Each
// image is encoded once, however many questions in the batch ask about it.
#include <string>
#include <vector>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "focus/models/attn_cnn.h"
#include "focus/models/classifier.h"
#include "focus/models/text_encoder.h"
#include "focus/nn/attention_pool.h"
#include "focus/nn/film.h"
#include "focus/nn/multi_head_attention.h"
#include "focus/nn/transformer_encoder.h"

namespace focus::models {

struct FusionNetOptions {
  int64_t in_channels = 3;     ///< image channels (set from the data)
  int64_t num_classes = 10;    ///< answers (set from the data)
  // image encoder ("image" object in the recipe)
  int64_t stem_channels = 32;  ///< width of the 3x3 stem
  int64_t stem_stride = 1;     ///< stride of the stem (1 or 2)
  std::vector<StageOptions> stages = {{32, 1, 2, "none"}, {64, 1, 2, "none"}, {64, 1, 2, "none"}};
  int64_t reduction = 8;       ///< SE/CBAM bottleneck ratio
  // text encoder ("text" object: dim, layers, heads, ff_dim, positions, dropout, attention_dropout)
  TextEncoderOptions text = [] {
    TextEncoderOptions t;
    t.dim = 64;
    t.max_length = 64;
    return t;
  }();
  // fusion
  std::string fusion = "cross";  ///< concat, late, film or cross
  int64_t dim = 64;              ///< width of region features and of the fusion layers
  /// How regions know where they are (concat, late, cross). "coords": their x
  /// and y in [-1, 1] enter the projection to `dim` as two more channels (a
  /// small share of its input). "fourier": in addition, a learned projection
  /// of sin and cos of x and y at kRegionFrequencies frequencies is added to
  /// every region, as a Transformer adds position embeddings: attention can
  /// then read a region's position, and a dot product of two regions'
  /// encodings is a function of their offset. With "coords" the cross fusion
  /// learned which object a question names but not where it is
  /// (docs/BENCHMARKS.md, Sort-of-CLEVR). film reads coordinates in each
  /// block and takes only "coords".
  std::string region_positions = "coords";
  int64_t heads = 4;             ///< attention heads of the relational and cross layers
  int64_t relational_layers = 2; ///< cross: region self-attention layers
  int64_t cross_layers = 2;      ///< cross: question -> region layers
  /// cross: every cross layer after the first biases each head's token ->
  /// region scores by where the same token attended in the layer before (its
  /// focus). Two features per region (focus_features): its distance in grid
  /// cells from the focus, and how much the layer before attended to it; a
  /// linear map reads their coefficients from the token's state, per head
  /// (zero at the start). A negative distance coefficient makes a head attend
  /// to what lies closest to the focus, a positive one to what lies furthest,
  /// and a negative attention coefficient keeps it off the focus itself
  /// ("inhibition of return"): an arg-min over distances that dot products of
  /// position encodings only approximate. A relative position bias (as in
  /// Shaw et al. 2018 or ALiBi, Press et al. 2022) whose origin is the
  /// previous layer's attention.
  bool cross_focus_bias = false;
  /// cross: FiLM blocks (as the film fusion's, `film_blocks` of them) that
  /// condition each question's copy of the region grid on the question
  /// between the relational and the cross layers (0 = none: the cross layers
  /// read the question-independent regions). Multiplicative conditioning lets
  /// a region mark itself as the one asked about before any attention has
  /// learned to find it. It solved a one-form diagnostic task that the plain
  /// cross layers did not; the recipe now gets there instead with a
  /// curriculum and "fourier" region positions (docs/BENCHMARKS.md, Sort-of-CLEVR).
  int64_t conditioning_blocks = 0;
  int64_t film_blocks = 2;       ///< film: FiLM residual blocks
  int64_t hidden = 128;          ///< width of the classifier MLP
  double dropout = 0.1;          ///< dropout in the fusion layers and the classifier
};

/// Positions of the regions of an h x w grid in cells, row-major: [h * w, 2] = (column, row).
torch::Tensor region_cells(int64_t h, int64_t w, const torch::TensorOptions& options);
/// Number of focus features per region (FusionNetOptions::cross_focus_bias).
inline constexpr int64_t kFocusFeatures = 2;
/// For attention weights [Q, H, L, R] over regions at `cells` [R, 2], with a = the
/// mean over heads [Q, L, R]: per token and region [Q, L, R, 2], (the distance
/// from the region to the focus sum_r a_r cell_r, a / max_r a_r).
torch::Tensor focus_features(const torch::Tensor& weights, const torch::Tensor& cells);

/// Frequencies of the "fourier" region positions: sin and cos of (pi k / 2) x
/// and of (pi k / 2) y for k = 1 .. kRegionFrequencies.
inline constexpr int64_t kRegionFrequencies = 4;
/// The "fourier" encoding of a coordinate grid [1, 2, h, w] (x, y): [h * w, 4 * kRegionFrequencies],
/// per frequency k the columns sin(a_x), sin(a_y), cos(a_x), cos(a_y) with a = (pi k / 2) coordinate.
torch::Tensor fourier_positions(const torch::Tensor& coords);

FusionNetOptions parse_fusion_net_options(const util::Json& json, const std::string& context);
util::Json to_json(const FusionNetOptions& options);

/// A FiLM residual block (Perez et al. 2017): 1x1 conv over features + coordinates,
/// ReLU (y), 3x3 conv, batch norm without affine, FiLM, ReLU, plus y.
class FilmBlockImpl : public torch::nn::Cloneable<FilmBlockImpl> {
 public:
  FilmBlockImpl(int64_t channels, int64_t condition_dim);
  void reset() override;
  /// x: [Q, C, h, w]; coords: [1, 2, h, w]; condition: [Q, D].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& coords, const torch::Tensor& condition);

  int64_t channels, condition_dim;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d norm{nullptr};
  nn::Film film{nullptr};
};
TORCH_MODULE(FilmBlock);

/// A question -> region layer (pre-norm): token self-attention (padding masked),
/// attention from tokens to their image's regions, feed-forward. With
/// focus_bias, the token -> region score of head h gets sum_k c[h, k] * f[k],
/// f the focus features passed to forward() and c = focus_coefficients(query
/// token) (FusionNetOptions::cross_focus_bias).
class CrossLayerImpl : public torch::nn::Cloneable<CrossLayerImpl> {
 public:
  CrossLayerImpl(int64_t dim, int64_t heads, double dropout, bool focus_bias = false);
  void reset() override;
  /// tokens [Q, L, dim], padding [Q, L] (true = pad), regions [I, R, dim], image_index [Q];
  /// features [Q, L, R, kFocusFeatures] (focus_features) when the layer has a focus bias.
  /// Returns the new tokens and the cross weights [Q, heads, L, R].
  nn::AttentionOutput forward(const torch::Tensor& tokens, const torch::Tensor& padding, const torch::Tensor& regions,
                              const torch::Tensor& image_index, const torch::Tensor& features = {});

  int64_t dim, heads;
  double dropout_p;
  bool focus_bias;
  /// dim -> heads * kFocusFeatures, zero at the start.
  torch::nn::Linear focus_coefficients{nullptr};
  torch::nn::LayerNorm norm_self{nullptr}, norm_query{nullptr}, norm_regions{nullptr}, norm_ff{nullptr};
  nn::MultiHeadAttention self_attention{nullptr}, cross_attention{nullptr};
  torch::nn::Linear ff1{nullptr}, ff2{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(CrossLayer);

class FusionNetImpl : public Classifier {
 public:
  explicit FusionNetImpl(FusionNetOptions options);
  torch::Tensor forward(const data::Batch& batch) override;
  ClassifierOutput forward_with_attention(const data::Batch& batch) override;
  void pretty_print(std::ostream& stream) const override;

  FusionNetOptions options;
  // image encoder
  torch::nn::Conv2d stem{nullptr};
  torch::nn::BatchNorm2d stem_bn{nullptr};
  std::vector<ResidualBlock> blocks;
  std::vector<std::string> block_names;
  torch::nn::Conv2d region_proj{nullptr};
  torch::nn::Linear position_proj{nullptr};              ///< region_positions "fourier"
  // text encoder
  TextEncoder text{nullptr};
  torch::nn::Linear text_proj{nullptr};
  // fusions
  nn::AttentionPool image_pool{nullptr};                 ///< concat, late
  torch::nn::Linear image_head{nullptr}, text_head{nullptr};  ///< late
  std::vector<FilmBlock> film_blocks;                    ///< film; cross with conditioning_blocks
  torch::nn::Conv2d film_out{nullptr};                   ///< film
  nn::TransformerEncoder relational{nullptr};            ///< cross
  std::vector<CrossLayer> cross_layers;                  ///< cross
  torch::nn::LayerNorm cross_norm{nullptr};              ///< cross
  torch::nn::Linear mlp1{nullptr}, mlp2{nullptr};        ///< concat, film, cross
  torch::nn::Dropout dropout{nullptr};

 private:
  torch::Tensor run(const data::Batch& batch, std::vector<NamedAttention>* maps,
                    std::vector<NamedAttention>* activations);
};

}  // namespace focus::models
