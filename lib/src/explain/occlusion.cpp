#include "focus/explain/occlusion.h"

#include <vector>

#include "focus/util/error.h"

namespace focus::explain {

namespace {
/// Patch starts along one axis: every stride, plus one flush with the far edge.
std::vector<int64_t> starts(int64_t size, int64_t patch, int64_t stride) {
  std::vector<int64_t> out;
  const int64_t last = std::max<int64_t>(0, size - patch);
  for (int64_t s = 0; s <= last; s += stride) out.push_back(s);
  if (out.back() != last) out.push_back(last);
  return out;
}
}  // namespace

torch::Tensor occlusion_map(const ProbabilityFn& probabilities, const torch::Tensor& image, int64_t target,
                            const OcclusionOptions& o) {
  if (image.dim() != 3) throw Error("occlusion: the image must be [C, H, W]");
  if (o.patch < 1 || o.stride < 1 || o.batch_size < 1) throw Error("occlusion: patch, stride and batch size must be >= 1");
  torch::NoGradGuard no_grad;
  const int64_t h = image.size(1), w = image.size(2), patch = std::min({o.patch, h, w});
  auto base_probs = probabilities(image.unsqueeze(0));
  if (target < 0 || target >= base_probs.size(1))
    throw Error("occlusion: class " + std::to_string(target) + " is outside the model's " +
                std::to_string(base_probs.size(1)) + " classes");
  const float base = base_probs[0][target].item<float>();
  std::vector<std::pair<int64_t, int64_t>> positions;
  for (int64_t y : starts(h, patch, o.stride))
    for (int64_t x : starts(w, patch, o.stride)) positions.emplace_back(y, x);
  auto sum = torch::zeros({h, w});
  auto count = torch::zeros({h, w});
  using torch::indexing::Slice;
  for (size_t start = 0; start < positions.size(); start += static_cast<size_t>(o.batch_size)) {
    const size_t end = std::min(positions.size(), start + static_cast<size_t>(o.batch_size));
    auto copies = image.unsqueeze(0).repeat({static_cast<int64_t>(end - start), 1, 1, 1});
    for (size_t k = start; k < end; ++k) {
      const auto [y, x] = positions[k];
      copies.index_put_({static_cast<int64_t>(k - start), Slice(), Slice(y, y + patch), Slice(x, x + patch)}, o.baseline);
    }
    auto p = probabilities(copies).select(1, target).to(torch::kCPU);
    for (size_t k = start; k < end; ++k) {
      const auto [y, x] = positions[k];
      const float drop = base - p[static_cast<int64_t>(k - start)].item<float>();
      sum.index({Slice(y, y + patch), Slice(x, x + patch)}) += drop;
      count.index({Slice(y, y + patch), Slice(x, x + patch)}) += 1;
    }
  }
  return sum / count.clamp_min(1);
}

}  // namespace focus::explain
