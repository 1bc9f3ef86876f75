#include "focus/train/inference.h"

#include <torch/nn/functional/loss.h>

namespace focus::train {

InferenceResult run_inference(models::Classifier& model, const data::BatchSource& source, const torch::Device& device,
                              bool keep_probabilities) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<torch::Tensor> probs, targets;
  double loss_sum = 0, correct = 0;
  int64_t count = 0;
  auto stream = source.epoch(0, 0);
  while (auto batch = stream->next()) {
    auto b = batch->to(device);
    if (b.size() == 0) continue;
    auto logits = model.forward(b);
    loss_sum += torch::nn::functional::cross_entropy(logits, b.targets,
                                                     torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += logits.argmax(1).eq(b.targets).sum().item<double>();
    count += b.size();
    if (keep_probabilities) {
      probs.push_back(torch::softmax(logits, 1).to(torch::kCPU));
      targets.push_back(b.targets.to(torch::kCPU));
    }
  }
  if (was_training) model.train();
  InferenceResult r;
  r.count = count;
  if (count == 0) return r;
  if (keep_probabilities) {
    r.probabilities = torch::cat(probs);
    r.targets = torch::cat(targets);
  }
  r.loss = loss_sum / static_cast<double>(count);
  r.accuracy = correct / static_cast<double>(count);
  return r;
}

}  // namespace focus::train
