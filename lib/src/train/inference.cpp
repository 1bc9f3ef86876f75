#include "focus/train/inference.h"

#include <torch/nn/functional/loss.h>

namespace focus::train {

InferenceResult run_inference(models::Classifier& model, const data::BatchSource& source, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<torch::Tensor> probs, targets;
  double loss_sum = 0;
  auto stream = source.epoch(0, 0);
  while (auto batch = stream->next()) {
    auto b = batch->to(device);
    if (b.size() == 0) continue;
    auto logits = model.forward(b);
    loss_sum += torch::nn::functional::cross_entropy(logits, b.targets,
                                                     torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    probs.push_back(torch::softmax(logits, 1).to(torch::kCPU));
    targets.push_back(b.targets.to(torch::kCPU));
  }
  if (was_training) model.train();
  InferenceResult r;
  if (probs.empty()) return r;
  r.probabilities = torch::cat(probs);
  r.targets = torch::cat(targets);
  const auto n = static_cast<double>(r.targets.size(0));
  r.loss = loss_sum / n;
  r.accuracy = r.probabilities.argmax(1).eq(r.targets).sum().item<double>() / n;
  return r;
}

}  // namespace focus::train
