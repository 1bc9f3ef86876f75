#include "focus/data/mlm_masking.h"

#include <algorithm>
#include <random>

#include "focus/data/tokenizer.h"
#include "focus/util/error.h"

namespace focus::data {

MaskedTokens mask_tokens(const torch::Tensor& ids, const torch::Tensor& valid, const MlmMaskingOptions& options,
                         uint64_t seed) {
  if (options.random_fraction > 0 && options.vocab_size <= SpecialTokens::count)
    throw Error("masked LM: the vocabulary has no ordinary tokens (size " + std::to_string(options.vocab_size) + ")");
  if (options.probability <= 0 || options.probability > 1 || options.mask_fraction < 0 || options.random_fraction < 0 ||
      options.mask_fraction + options.random_fraction > 1)
    throw Error("masked LM: need 0 < probability <= 1 and mask_fraction + random_fraction <= 1");
  TORCH_CHECK(ids.dim() == 2 && valid.sizes() == ids.sizes(), "mask_tokens: expected ids and valid [B, L]");
  auto in = ids.contiguous();
  auto ok = valid.to(torch::kBool).contiguous();
  MaskedTokens out;
  out.inputs = in.clone();
  out.positions = torch::zeros_like(ok);
  const int64_t n = in.numel();
  const int64_t* src = in.data_ptr<int64_t>();
  const bool* real = ok.data_ptr<bool>();
  int64_t* dst = out.inputs.data_ptr<int64_t>();
  bool* chosen = out.positions.data_ptr<bool>();

  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  // Random replacements only; with random_fraction 0 the vocabulary size is not needed.
  std::uniform_int_distribution<int64_t> random_token(SpecialTokens::count,
                                                      std::max(SpecialTokens::count, options.vocab_size - 1));
  std::vector<int64_t> candidates;
  for (int64_t i = 0; i < n; ++i) {
    if (!real[i] || src[i] < SpecialTokens::count) continue;
    candidates.push_back(i);
    chosen[i] = uniform(rng) < options.probability;
  }
  bool any = false;
  for (int64_t i : candidates) any = any || chosen[i];
  if (!any && !candidates.empty())
    chosen[candidates[std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng)]] = true;

  std::vector<int64_t> targets;
  for (int64_t i : candidates) {
    if (!chosen[i]) continue;
    targets.push_back(src[i]);
    const double r = uniform(rng);
    if (r < options.mask_fraction) {
      dst[i] = SpecialTokens::mask;
    } else if (r < options.mask_fraction + options.random_fraction) {
      dst[i] = random_token(rng);
    }
  }
  out.targets = torch::tensor(targets, torch::kLong);
  return out;
}

}  // namespace focus::data
