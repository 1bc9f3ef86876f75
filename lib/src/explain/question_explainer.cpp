#include "focus/explain/question_explainer.h"

#include <algorithm>

#include "focus/data/multimodal_batch_source.h"
#include "focus/explain/grad_cam.h"
#include "focus/explain/rollout.h"
#include "focus/util/error.h"
#include "focus/util/strings.h"

namespace focus::explain {

namespace {

using util::join;

std::vector<const models::NamedAttention*> maps_with_prefix(const models::ClassifierOutput& out, const std::string& prefix) {
  std::vector<const models::NamedAttention*> found;
  for (const auto& m : out.attention)
    if (m.name.rfind(prefix, 0) == 0) found.push_back(&m);
  return found;
}

/// The image encoder's grid size (h, w).
std::pair<int64_t, int64_t> grid_size(const models::ClassifierOutput& out) {
  for (const auto& a : out.activations)
    if (a.name == "image.grid") return {a.weights.size(2), a.weights.size(3)};
  throw Error("the model returned no image.grid activation");
}

/// rows [L, R] -> the [CLS] row as the map, the other rows per token.
QuestionMap from_rows(const torch::Tensor& rows, int64_t h, int64_t w, std::string source) {
  QuestionMap q;
  auto grids = rows.detach().to(torch::kCPU).to(torch::kFloat).reshape({rows.size(0), h, w});
  q.map = grids[0];
  for (int64_t t = 1; t < grids.size(0); ++t) q.per_token.push_back(grids[t]);
  q.source = std::move(source);
  return q;
}

torch::Tensor bar(const torch::Tensor& r) {
  auto eye = torch::eye(r.size(0), r.options());
  auto hat = r - eye;
  return hat / hat.sum(1, true).clamp_min(1e-12) + eye;
}

}  // namespace

std::vector<std::string> question_methods(const std::string& fusion) {
  if (fusion == "cross") return {"attention", "grad_rollout", "gradcam", "occlusion"};
  if (fusion == "concat" || fusion == "late") return {"attention", "gradcam", "occlusion"};
  return {"gradcam", "occlusion"};
}

torch::Tensor cross_relevance_update(const torch::Tensor& r_ti, const torch::Tensor& r_tt, const torch::Tensor& a,
                                     const torch::Tensor& r_ii) {
  return r_ti + bar(r_tt).transpose(0, 1).matmul(a).matmul(bar(r_ii));
}

QuestionMap explain_question(models::Classifier& model, const std::string& fusion, const data::Batch& batch,
                             const std::string& method, int64_t target, const ExplainOptions& o) {
  const auto methods = question_methods(fusion);
  if (std::find(methods.begin(), methods.end(), method) == methods.end())
    throw Error("method '" + method + "' does not apply to a " + fusion + " fusion model (methods that do: " +
                join(methods) + ")");
  auto images = batch.extra.find(data::kBatchImages);
  if (batch.inputs.dim() != 2 || batch.inputs.size(0) != 1 || images == batch.extra.end() || images->second.size(0) != 1)
    throw Error("explain_question: expects one question [1, L] about one image [1, C, H, W]");

  if (method == "occlusion") {
    auto probabilities = [&model, &batch](const torch::Tensor& imgs) {
      const int64_t n = imgs.size(0);
      data::Batch b;
      b.inputs = batch.inputs.expand({n, batch.inputs.size(1)});
      b.mask = batch.mask.expand({n, batch.mask.size(1)});
      b.extra[data::kBatchImages] = imgs;
      b.extra[data::kBatchImageIndex] = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(imgs.device()));
      return torch::softmax(model.forward(b), 1);
    };
    return {occlusion_map(probabilities, images->second[0], target, o.occlusion),
            "patch " + std::to_string(o.occlusion.patch) + ", stride " + std::to_string(o.occlusion.stride), {}};
  }
  if (method == "attention") {
    torch::NoGradGuard no_grad;
    auto out = model.forward_with_attention(batch);
    const auto [h, w] = grid_size(out);
    if (fusion != "cross") {
      for (const auto& m : out.attention)
        if (m.name == "image.pool") return {m.weights[0][0].detach().to(torch::kCPU), "image.pool (question-independent)", {}};
      throw Error("the model returned no image.pool map");
    }
    const auto* chosen = &choose_layer(maps_with_prefix(out, "cross.layer"), o.layer, "cross-attention layer");
    auto weights = chosen->weights[0];  // [H, L, R]
    if (o.head < -1 || o.head >= weights.size(0))
      throw Error("--head " + std::to_string(o.head) + ": the layer has " + std::to_string(weights.size(0)) + " heads");
    return from_rows(o.head >= 0 ? weights[o.head] : weights.mean(0), h, w,
                     chosen->name + (o.head >= 0 ? " head " + std::to_string(o.head) : " mean of heads"));
  }

  torch::AutoGradMode grad_on(true);
  auto out = model.forward_with_attention(batch);
  if (target < 0 || target >= out.logits.size(1))
    throw Error("class " + std::to_string(target) + " is outside the model's " + std::to_string(out.logits.size(1)) +
                " classes");
  auto score = out.logits[0][target];
  if (method == "gradcam") {
    for (const auto& a : out.activations)
      if (a.name == "image.grid") {
        auto grads = torch::autograd::grad({score}, {a.weights});
        return {grad_cam(a.weights, grads[0])[0].detach().to(torch::kCPU), "image.grid", {}};
      }
    throw Error("the model returned no image.grid activation");
  }
  // grad_rollout
  const auto [h, w] = grid_size(out);
  auto text_layers = maps_with_prefix(out, "text.layer");
  auto relational = maps_with_prefix(out, "relational.layer");
  auto cross = maps_with_prefix(out, "cross.layer");
  if (cross.empty()) throw Error("the model returned no cross-attention maps");
  std::vector<torch::Tensor> wanted;
  for (const auto* group : {&text_layers, &relational, &cross})
    for (const auto* m : *group) wanted.push_back(m->weights);
  auto grads = torch::autograd::grad({score}, wanted);
  size_t k = 0;
  auto take = [&](size_t n) {
    std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>> part;
    for (size_t i = 0; i < n; ++i, ++k) {
      part.first.push_back(wanted[k]);
      part.second.push_back(grads[k]);
    }
    return part;
  };
  const int64_t length = batch.inputs.size(1), regions = h * w;
  auto [tl, tg] = take(text_layers.size());
  auto [rl, rg] = take(relational.size());
  auto [cl, cg] = take(cross.size());
  auto r_tt = tl.empty() ? torch::eye(length) : gradient_rollout(tl, tg)[0].to(torch::kCPU);
  auto r_ii = rl.empty() ? torch::eye(regions) : gradient_rollout(rl, rg)[0].to(torch::kCPU);
  auto r_ti = torch::zeros({length, regions});
  for (size_t i = 0; i < cl.size(); ++i) {
    auto a = (cg[i].detach() * cl[i].detach()).to(torch::kCPU).to(torch::kFloat).clamp_min(0).mean(1)[0];  // [L, R]
    r_ti = cross_relevance_update(r_ti, r_tt, a, r_ii);
  }
  return from_rows(r_ti, h, w,
                   "relevance over " + std::to_string(tl.size()) + " text, " + std::to_string(rl.size()) +
                       " relational and " + std::to_string(cl.size()) + " cross layers");
}

}  // namespace focus::explain
