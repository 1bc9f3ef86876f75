#pragma once
// Explanations of one question about one image, answered by a FusionNet:
// which image regions the answer (and each question word) depended on.
//   attention     cross fusion: the question -> region cross-attention of a
//                 cross layer (--layer cross.layerN, default the last; --head N
//                 or the mean of heads); concat/late: the attention-pooling map
//                 over the regions (question-independent)
//   grad_rollout  cross fusion: gradient-weighted relevance (Chefer et al. 2021,
//                 bi-modal rules): region self-relevance from the relational
//                 layers, token self-relevance from the text encoder, and each
//                 cross layer adding R_tt^T . E_h[(dA * A)+] . R_ii (both
//                 self-relevances with their identity removed, rows normalised,
//                 identity added back). The token self-attention inside the cross
//                 layers is not tracked (the model does not return it), nor is the
//                 3x3 mixing of neighbouring regions by conditioning blocks.
//   gradcam       Grad-CAM on the image encoder's feature grid ("image.grid")
//   occlusion     the answer probability drop under a sliding patch over the
//                 image, the question fixed
// Cross-attention methods also give a map per question token.
#include <string>
#include <vector>

#include "focus/explain/explainer.h"

namespace focus::explain {

/// The methods that apply to a FusionNet with fusion `fusion`, in a fixed order.
std::vector<std::string> question_methods(const std::string& fusion);

struct QuestionMap {
  torch::Tensor map;                   ///< [h, w]: the whole question (the [CLS] token's row for cross methods)
  std::string source;
  std::vector<torch::Tensor> per_token;  ///< [h, w] for each question token after [CLS] (cross methods; else empty)
};

/// `batch`: one question ([1, L] ids and mask) with its image (extra images
/// [1, C, H, W], image_index [1]). Throws focus::Error naming the methods that
/// apply for one that does not, and the available layers for an unknown --layer.
QuestionMap explain_question(models::Classifier& model, const std::string& fusion, const data::Batch& batch,
                             const std::string& method, int64_t target, const ExplainOptions& options = {});

/// The bi-modal relevance update of Chefer et al. 2021 (their eq. 10) for one
/// cross-attention layer: r_ti + bar(r_tt)^T . a . bar(r_ii), with a = E_h[(grad * A)+]
/// ([L, R]), r_tt [L, L], r_ii [R, R]; bar(R) = rownorm(R - I) + I.
torch::Tensor cross_relevance_update(const torch::Tensor& r_ti, const torch::Tensor& r_tt, const torch::Tensor& a,
                                     const torch::Tensor& r_ii);

}  // namespace focus::explain
