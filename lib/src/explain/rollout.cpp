#include "focus/explain/rollout.h"

#include "focus/util/error.h"

namespace focus::explain {

namespace {

void check_layer(const torch::Tensor& a, const torch::Tensor& first, size_t index) {
  TORCH_CHECK(a.dim() == 4 && a.size(2) == a.size(3), "rollout: layer ", index, " must be [B, H, L, L], got ",
              a.sizes());
  TORCH_CHECK(a.size(0) == first.size(0) && a.size(2) == first.size(2), "rollout: layer ", index, " has shape ",
              a.sizes(), ", the first layer ", first.sizes());
}

torch::Tensor fuse(const torch::Tensor& a, HeadFusion f) {
  switch (f) {
    case HeadFusion::max: return a.amax(1);
    case HeadFusion::min: return a.amin(1);
    default: return a.mean(1);
  }
}

}  // namespace

HeadFusion parse_head_fusion(const std::string& name) {
  if (name == "mean") return HeadFusion::mean;
  if (name == "max") return HeadFusion::max;
  if (name == "min") return HeadFusion::min;
  throw Error("unknown head fusion '" + name + "': expected mean, max or min");
}

torch::Tensor attention_rollout(const std::vector<torch::Tensor>& layers, const RolloutOptions& options) {
  if (layers.empty()) throw Error("attention rollout needs at least one attention layer");
  if (options.discard_ratio < 0 || options.discard_ratio >= 1)
    throw Error("attention rollout: discard ratio must be in [0, 1), got " + std::to_string(options.discard_ratio));
  torch::NoGradGuard no_grad;
  torch::Tensor result;
  for (size_t i = 0; i < layers.size(); ++i) {
    check_layer(layers[i], layers[0], i);
    auto a = fuse(layers[i].detach().to(torch::kFloat), options.head_fusion);  // [B, L, L]
    const int64_t b = a.size(0), l = a.size(1);
    if (options.discard_ratio > 0) {
      auto flat = a.reshape({b, l * l}).clone();
      const auto k = static_cast<int64_t>(options.discard_ratio * static_cast<double>(l * l));
      if (k > 0) {
        auto lowest = std::get<1>(flat.topk(k, 1, /*largest=*/false));
        auto is_first = lowest.eq(0).to(flat.dtype());  // the [0, 0] entry is never discarded
        flat.scatter_(1, lowest, flat.gather(1, lowest) * is_first);
      }
      a = flat.view({b, l, l});
    }
    auto a_hat = a + torch::eye(l, a.options()).unsqueeze(0);
    a_hat = a_hat / a_hat.sum(-1, /*keepdim=*/true);
    result = result.defined() ? a_hat.bmm(result) : a_hat;
  }
  return result;
}

torch::Tensor gradient_rollout(const std::vector<torch::Tensor>& layers, const std::vector<torch::Tensor>& gradients) {
  if (layers.empty()) throw Error("gradient rollout needs at least one attention layer");
  if (gradients.size() != layers.size())
    throw Error("gradient rollout: " + std::to_string(layers.size()) + " layers but " +
                std::to_string(gradients.size()) + " gradients");
  torch::NoGradGuard no_grad;
  const int64_t b = layers[0].size(0), l = layers[0].size(2);
  auto r = torch::eye(l, layers[0].options().dtype(torch::kFloat)).unsqueeze(0).repeat({b, 1, 1});
  for (size_t i = 0; i < layers.size(); ++i) {
    check_layer(layers[i], layers[0], i);
    TORCH_CHECK(gradients[i].sizes() == layers[i].sizes(), "gradient rollout: gradient ", i, " has shape ",
                gradients[i].sizes(), ", its layer ", layers[i].sizes());
    auto a_bar = (gradients[i].detach().to(torch::kFloat) * layers[i].detach().to(torch::kFloat)).clamp_min(0).mean(1);
    r = r + a_bar.bmm(r);
  }
  return r;
}

}  // namespace focus::explain
