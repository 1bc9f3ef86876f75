#include "focus/data/batch.h"
#include "focus/data/image_set.h"
#include "focus/util/error.h"

namespace focus::data {

Batch Batch::to(const torch::Device& device) const {
  Batch b;
  auto move = [&](const torch::Tensor& t) { return t.defined() ? t.to(device, /*non_blocking=*/true) : t; };
  b.inputs = move(inputs);
  b.targets = move(targets);
  b.mask = move(mask);
  for (const auto& [k, v] : extra) b.extra[k] = move(v);
  return b;
}

ImageSet ImageSet::subset(const std::vector<int64_t>& indices) const {
  auto idx = torch::tensor(indices, torch::kLong);
  return {images.index_select(0, idx).contiguous(), labels.index_select(0, idx).contiguous(), class_names, source};
}

void check_labels(const torch::Tensor& labels, int64_t num_classes, const std::string& source) {
  auto acc = labels.accessor<int64_t, 1>();
  for (int64_t i = 0; i < acc.size(0); ++i) {
    if (acc[i] < 0 || acc[i] >= num_classes)
      throw Error(source + ": label " + std::to_string(acc[i]) + " at index " + std::to_string(i) +
                  " is out of range: expected 0.." + std::to_string(num_classes - 1) + " (" +
                  std::to_string(num_classes) + " classes)");
  }
}

}  // namespace focus::data
