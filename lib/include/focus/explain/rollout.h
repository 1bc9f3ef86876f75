#pragma once
// Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in
// Transformers") and gradient-weighted rollout (Chefer et al. 2021, "Generic
// Attention-model Explainability for Interpreting Bi-Modal and
// Encoder-Decoder Transformers").
#include <string>
#include <vector>

#include <torch/types.h>

namespace focus::explain {

enum class HeadFusion { mean, max, min };
/// "mean", "max" or "min"; throws focus::Error otherwise.
HeadFusion parse_head_fusion(const std::string& name);

struct RolloutOptions {
  HeadFusion head_fusion = HeadFusion::mean;  ///< how a layer's heads become one matrix
  double discard_ratio = 0.0;  ///< share of each fused matrix's smallest entries set to 0 (never [0, 0]), in [0, 1)
};

/// layers: the self-attention weights of consecutive layers, each [B, H, L, L]
/// (rows sum to 1). Each layer's heads are fused, optionally thinned, the
/// residual added (A + I) and rows renormalised; the result is the product
/// A_n ... A_1, [B, L, L]: row i is how much each input position flows into
/// position i of the last layer (row 0 for a [CLS] token).
torch::Tensor attention_rollout(const std::vector<torch::Tensor>& layers, const RolloutOptions& options = {});

/// Chefer et al. 2021, self-attention rule: R = I, then for each layer
/// R = R + mean_h((dy/dA) * A)^+ R. `gradients` are the gradients of the
/// explained score with respect to each layer's weights. Returns [B, L, L].
torch::Tensor gradient_rollout(const std::vector<torch::Tensor>& layers, const std::vector<torch::Tensor>& gradients);

}  // namespace focus::explain
