#pragma once
// What linear.cpp and batched_matmul.cpp share: when a CPU product is worth
// splitting over LibTorch's intra-op threads, and the split itself.
//
// Private to those two sources: at::parallel_for is an inline template that
// runs its body on the calling thread unless the including source is compiled
// with OpenMP, and only they are (lib/CMakeLists.txt).
#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <torch/types.h>

namespace focus::nn::detail {

// Below this many multiply-adds in all, a product is not split: a thread
// hand-off costs a few microseconds, a 256k-MAC product about as much on one core.
constexpr int64_t kMinSplitMacs = int64_t{1} << 18;

/// Whether a product of this tensor's device and dtype may be split at all
/// now: CPU, float32/float64, more than one intra-op thread, and not already
/// inside a parallel region.
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

}  // namespace focus::nn::detail
