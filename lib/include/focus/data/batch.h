#pragma once
// A batch as every model and the trainer see it.
#include <map>
#include <string>

#include <torch/types.h>

namespace focus::data {

struct Batch {
  torch::Tensor inputs;   ///< model input, e.g. images [B, C, H, W] float
  torch::Tensor targets;  ///< class indices [B] int64
  torch::Tensor mask;     ///< optional validity mask, e.g. [B, L] bool, true = real token (not padding)
  std::map<std::string, torch::Tensor> extra;  ///< optional further inputs

  /// Number of predictions (targets): examples, or masked tokens for a masked LM.
  int64_t size() const { return targets.defined() ? targets.size(0) : inputs.size(0); }
  /// Number of examples (rows of inputs).
  int64_t examples() const { return inputs.size(0); }
  /// A copy with every tensor moved to `device`.
  Batch to(const torch::Device& device) const;
};

}  // namespace focus::data
