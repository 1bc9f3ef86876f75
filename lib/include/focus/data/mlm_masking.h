#pragma once
// Masked-language-model corruption (Devlin et al. 2019): each real,
// non-special token is chosen with `probability`; a chosen token becomes
// [MASK] (80%), a random vocabulary token (10%) or stays itself (10%). The
// loss is taken only at chosen positions. At least one position is chosen
// per batch when any token qualifies. Deterministic for a given seed.
#include <cstdint>

#include <torch/types.h>

namespace focus::data {

/// Key of the Batch::extra tensor that marks the positions to predict.
inline constexpr const char* kMlmPositions = "mlm_positions";

struct MlmMaskingOptions {
  double probability = 0.15;     ///< chance that a token is chosen
  double mask_fraction = 0.8;    ///< of the chosen: replaced by [MASK]
  double random_fraction = 0.1;  ///< of the chosen: replaced by a random non-special token
  int64_t vocab_size = 0;        ///< random tokens come from [SpecialTokens::count, vocab_size)
};

struct MaskedTokens {
  torch::Tensor inputs;     ///< int64 [B, L], the corrupted ids
  torch::Tensor positions;  ///< bool [B, L], true = chosen
  torch::Tensor targets;    ///< int64 [N], the original ids at the chosen positions, row-major
};

/// ids: int64 [B, L] on the CPU; valid: bool [B, L], true = real token.
MaskedTokens mask_tokens(const torch::Tensor& ids, const torch::Tensor& valid, const MlmMaskingOptions& options,
                         uint64_t seed);

}  // namespace focus::data
