#include "focus/train/inference.h"

#include <torch/nn/functional/loss.h>

#include "focus/util/error.h"

namespace focus::train {

InferenceResult run_inference(models::Classifier& model, const data::BatchSource& source, const torch::Device& device,
                              const InferenceOptions& options) {
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
    auto log_probs = torch::log_softmax(model.forward(b), 1);
    if (options.average_flipped) {
      if (b.inputs.dim() != 4 || !b.inputs.is_floating_point())
        throw Error("flip test-time augmentation needs image inputs [B, C, H, W]; this data gives inputs of shape " +
                    c10::str(b.inputs.sizes()));
      auto mirrored = b;
      mirrored.inputs = b.inputs.flip({3});
      // log((p + p') / 2), computed without leaving log space
      log_probs = torch::logsumexp(torch::stack({log_probs, torch::log_softmax(model.forward(mirrored), 1)}), 0) -
                  std::log(2.0);
    }
    loss_sum += torch::nn::functional::nll_loss(log_probs, b.targets,
                                                torch::nn::functional::NLLLossFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += log_probs.argmax(1).eq(b.targets).sum().item<double>();
    count += b.size();
    if (options.keep_probabilities) {
      probs.push_back(log_probs.exp().to(torch::kCPU));
      targets.push_back(b.targets.to(torch::kCPU));
    }
  }
  if (was_training) model.train();
  InferenceResult r;
  r.count = count;
  if (count == 0) return r;
  if (options.keep_probabilities) {
    r.probabilities = torch::cat(probs);
    r.targets = torch::cat(targets);
  }
  r.loss = loss_sum / static_cast<double>(count);
  r.accuracy = correct / static_cast<double>(count);
  return r;
}

}  // namespace focus::train
