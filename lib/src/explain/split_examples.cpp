#include "focus/explain/split_examples.h"

#include "focus/train/task.h"
#include "focus/util/error.h"

namespace focus::explain {

SplitWalk for_each_example(const train::TrainedRun& run, const std::string& split, int64_t first, int64_t limit,
                           const torch::Device& device, const std::function<void(const SplitExample&)>& visit) {
  if (first < 0 || limit < 1) throw Error("--limit must be >= 1 and --first >= 0");
  auto data = train::prepare_evaluation(run, split, 1);
  SplitWalk walk{data.source->size(), data.origin};
  if (first >= walk.size)
    throw Error("--first " + std::to_string(first) + ": the " + split + " split has " + std::to_string(walk.size) +
                " examples");
  auto stream = data.source->epoch(0, 0);
  int64_t index = 0;
  while (auto batch = stream->next()) {
    const int64_t i = index++;
    if (i < first) continue;
    if (i >= first + limit) break;
    SplitExample e;
    e.index = i;
    e.batch = batch->to(device);
    e.label = batch->targets[0].item<int64_t>();
    if (static_cast<size_t>(i) < data.texts.size()) e.text = data.texts[static_cast<size_t>(i)];
    if (static_cast<size_t>(i) < data.lines.size()) e.line = data.lines[static_cast<size_t>(i)];
    e.origin = data.origin;
    visit(e);
  }
  return walk;
}

torch::Tensor input_pixels(const torch::Tensor& input, const data::Normalization& norm) {
  auto x = (input.dim() == 4 ? input[0] : input).detach().to(torch::kCPU).to(torch::kFloat).clone();  // [C, H, W]
  for (int64_t c = 0; c < x.size(0) && c < static_cast<int64_t>(norm.mean.size()); ++c)
    x[c].mul_(norm.std[static_cast<size_t>(c)]).add_(norm.mean[static_cast<size_t>(c)]);
  return (x.clamp(0, 1) * 255).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
}

torch::Tensor example_probabilities(models::Classifier& model, const data::Batch& batch) {
  torch::NoGradGuard no_grad;
  return torch::softmax(model.forward(batch), 1).to(torch::kCPU);
}

}  // namespace focus::explain
