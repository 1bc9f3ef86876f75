#include "focus/explain/explainer.h"

#include <algorithm>
#include <cmath>

#include "focus/explain/grad_cam.h"
#include "focus/util/error.h"
#include "focus/util/strings.h"

namespace focus::explain {

namespace {

using util::join;

/// The ViT's per-layer weights, in order.
std::vector<const models::NamedAttention*> encoder_layers(const models::ClassifierOutput& out) {
  std::vector<const models::NamedAttention*> layers;
  for (const auto& m : out.attention)
    if (m.name.rfind("encoder.layer", 0) == 0) layers.push_back(&m);
  if (layers.empty()) throw Error("the model returned no Transformer attention layers");
  return layers;
}

/// Row 0 ([CLS]) over the patches, as the patch grid [gh, gw] of an h x w image.
torch::Tensor cls_row_as_grid(const torch::Tensor& matrix, int64_t image_h, int64_t image_w) {
  auto row = matrix.select(0, 0).narrow(0, 1, matrix.size(1) - 1);  // [patches]
  const auto patches = row.size(0);
  const auto side = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(patches) * image_h / image_w)));
  if (side < 1 || patches % side != 0) throw Error("cannot arrange " + std::to_string(patches) + " patches as a grid");
  return row.reshape({side, patches / side});
}

torch::Tensor score_of(const torch::Tensor& logits, int64_t target) {
  if (target < 0 || target >= logits.size(1))
    throw Error("class " + std::to_string(target) + " is outside the model's " + std::to_string(logits.size(1)) +
                " classes");
  return logits[0][target];
}

/// A map over the positions of an AttnCNN stage: CBAM and attention-pooling maps
/// ([1, 1, h, w]) as they are; a non-local block's affinity [1, hw, hw] as the
/// attention each position receives (the mean over the query positions), on the
/// grid of its stage's output. Undefined for other maps.
torch::Tensor spatial_map(const models::NamedAttention& m, const models::ClassifierOutput& out) {
  if (m.weights.dim() == 4 && m.weights.size(1) == 1) return m.weights[0][0].detach();
  const std::string suffix = ".nonlocal.affinity";
  if (m.weights.dim() != 3 || m.name.size() < suffix.size() ||
      m.name.compare(m.name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return {};
  const std::string stage = m.name.substr(0, m.name.find('.'));
  for (const auto& a : out.activations)
    if (a.name == stage && a.weights.size(2) * a.weights.size(3) == m.weights.size(2))
      return m.weights[0].detach().mean(0).reshape({a.weights.size(2), a.weights.size(3)});
  return {};
}

ImageMap cnn_attention(const models::ClassifierOutput& out, const ExplainOptions& o) {
  std::vector<std::string> spatial;
  const models::NamedAttention* chosen = nullptr;
  torch::Tensor chosen_map;
  for (const auto& m : out.attention) {
    auto map = spatial_map(m, out);
    if (!map.defined()) continue;
    spatial.push_back(m.name);
    if (o.layer.empty() || m.name == o.layer) {
      chosen = &m;
      chosen_map = map;
    }
  }
  if (spatial.empty())
    throw Error("the model computes no spatial attention map (no CBAM, non-local block or attention pooling)");
  if (!o.layer.empty() && (!chosen || chosen->name != o.layer))
    throw Error("--layer " + o.layer + ": no such spatial attention map (the model has: " + join(spatial) + ")");
  const bool nonlocal = chosen->weights.dim() == 3;
  return {chosen_map, chosen->name + (nonlocal ? " (attention received, mean over query positions)" : "")};
}

ImageMap vit_attention(const models::ClassifierOutput& out, const ExplainOptions& o, int64_t h, int64_t w) {
  const auto* chosen = &choose_layer(encoder_layers(out), o.layer, "attention layer");
  auto weights = chosen->weights[0].detach();  // [H, L, L]
  if (o.head < -1 || o.head >= weights.size(0))
    throw Error("--head " + std::to_string(o.head) + ": the layer has " + std::to_string(weights.size(0)) + " heads");
  auto matrix = o.head >= 0 ? weights[o.head] : weights.mean(0);
  return {cls_row_as_grid(matrix, h, w), chosen->name + (o.head >= 0 ? " head " + std::to_string(o.head) : " mean of heads")};
}

}  // namespace

const models::NamedAttention& choose_layer(const std::vector<const models::NamedAttention*>& layers,
                                           const std::string& wanted, const std::string& what) {
  if (layers.empty()) throw Error("the model returned no " + what + "s");
  if (wanted.empty()) return *layers.back();
  std::vector<std::string> names;
  for (const auto* l : layers) {
    if (l->name == wanted) return *l;
    names.push_back(l->name);
  }
  throw Error("--layer " + wanted + ": no such " + what + " (the model has: " + join(names) + ")");
}

std::vector<std::string> image_methods(const std::string& arch) {
  if (arch == "attncnn") return {"attention", "gradcam", "occlusion"};
  if (arch == "vit") return {"attention", "rollout", "grad_rollout", "occlusion"};
  return {"occlusion"};
}

ImageMap explain_image(models::Classifier& model, const std::string& arch, const data::Batch& batch,
                       const std::string& method, int64_t target, const ExplainOptions& o) {
  const auto methods = image_methods(arch);
  if (std::find(methods.begin(), methods.end(), method) == methods.end())
    throw Error("method '" + method + "' does not apply to a " + arch + " model (methods that do: " + join(methods) + ")");
  if (batch.inputs.dim() != 4 || batch.inputs.size(0) != 1) throw Error("explain_image: expects one image [1, C, H, W]");
  const int64_t h = batch.inputs.size(2), w = batch.inputs.size(3);

  if (method == "occlusion") {
    auto probabilities = [&model](const torch::Tensor& images) {
      data::Batch b;
      b.inputs = images;
      return torch::softmax(model.forward(b), 1);
    };
    return {occlusion_map(probabilities, batch.inputs[0], target, o.occlusion),
            "patch " + std::to_string(o.occlusion.patch) + ", stride " + std::to_string(o.occlusion.stride)};
  }
  if (method == "attention" || method == "rollout") {
    torch::NoGradGuard no_grad;
    auto out = model.forward_with_attention(batch);
    if (method == "attention") return arch == "vit" ? vit_attention(out, o, h, w) : cnn_attention(out, o);
    std::vector<torch::Tensor> layers;
    for (const auto* l : encoder_layers(out)) layers.push_back(l->weights);
    return {cls_row_as_grid(attention_rollout(layers, o.rollout)[0], h, w), "rollout over " + std::to_string(layers.size()) + " layers"};
  }
  // Gradient methods: forward with autograd on, then d score / d (maps or activations).
  torch::AutoGradMode grad_on(true);
  auto out = model.forward_with_attention(batch);
  auto score = score_of(out.logits, target);
  if (method == "grad_rollout") {
    std::vector<torch::Tensor> layers;
    for (const auto* l : encoder_layers(out)) layers.push_back(l->weights);
    auto grads = torch::autograd::grad({score}, layers);
    return {cls_row_as_grid(gradient_rollout(layers, grads)[0], h, w), "gradient rollout over " + std::to_string(layers.size()) + " layers"};
  }
  // gradcam
  if (out.activations.empty()) throw Error("the model exposes no convolution stage for Grad-CAM");
  const models::NamedAttention* stage = &out.activations.back();
  if (!o.layer.empty()) {
    std::vector<std::string> names;
    stage = nullptr;
    for (const auto& a : out.activations) {
      names.push_back(a.name);
      if (a.name == o.layer) stage = &a;
    }
    if (!stage) throw Error("--layer " + o.layer + ": no such convolution stage (the model has: " + join(names) + ")");
  }
  auto grads = torch::autograd::grad({score}, {stage->weights});
  return {grad_cam(stage->weights, grads[0])[0], stage->name};
}

}  // namespace focus::explain
