#pragma once
// What linear.cpp, batched_matmul.cpp, transformer_encoder.cpp, pooling.cpp,
// attention_scaling.cpp, attention_pool.cpp, cbam.cpp, batch_norm.cpp and
// train/fused_adamw.cpp share: when
// CPU work may be split over LibTorch's intra-op threads, and the split itself.
//
// Private to those sources: at::parallel_for is an inline template that runs
// its body on the calling thread unless the including source is compiled with
// OpenMP, and only they are (lib/CMakeLists.txt).
#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <torch/types.h>

#include <algorithm>

namespace focus::nn::detail {

// Below this many multiply-adds in all (4M), a product is not split. Waking
// the OpenMP team and joining it again costs more than the split saves for
// the products of a single image (measured 2026-12-03 on the 2-core VM,
// batch-1 forward passes at 2 threads: the Fashion ViT, 0.55 ms unsplit
// against 0.86-0.88 ms with products from 256k MACs split; FusionNet on
// Sort-of-CLEVR 2.0 against 2.5-3.1 ms), while a single 256-token text's
// projections (8-12M MACs) still gain (text Transformer 2.10-2.16 ms split
// from 4M, 2.33 from 8M, 3.0 unsplit).
constexpr int64_t kMinSplitMacs = int64_t{1} << 22;

/// Whether work on this tensor's device and dtype may be split at all now:
/// CPU, float32/float64, more than one intra-op thread, and not already inside
/// a parallel region.
inline bool may_split(const torch::Tensor& like) {
  return like.device().is_cpu() && (like.scalar_type() == torch::kFloat || like.scalar_type() == torch::kDouble) &&
         at::get_num_threads() > 1 && !at::in_parallel_region();
}

/// Runs body(begin, end) over [0, length) in chunks of at least `grain` on the
/// intra-op threads. Worker threads start with default thread-local state
/// (grad mode on, no inference mode): each chunk runs with the caller's, as
/// at::launch does.
template <typename Body>
void split_over_threads(int64_t length, int64_t grain, const Body& body) {
  const at::ThreadLocalState state;
  at::parallel_for(0, length, grain, [&](int64_t begin, int64_t end) {
    const at::ThreadLocalStateGuard guard(state);
    body(begin, end);
  });
}

/// Runs body(begin, end) over a batch of `batch` images of `values_per_image`
/// values each: split over the intra-op threads (when `split`, see may_split)
/// in chunks of at least 16k values, else on the calling thread in one call.
template <typename Body>
void split_by_image(int64_t batch, int64_t values_per_image, bool split, const Body& body) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, values_per_image));
  if (split && batch > grain)
    split_over_threads(batch, grain, body);
  else
    body(0, batch);
}

}  // namespace focus::nn::detail
