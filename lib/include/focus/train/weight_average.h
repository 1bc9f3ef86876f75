#pragma once
// An exponential moving average of a model's weights (Polyak averaging, as
// timm's ModelEma): after every optimiser step each average moves towards the
// current weight by (1 - decay). Evaluating the average instead of the last
// weights smooths out the noise of the final steps; it usually generalises a
// little better and varies much less from epoch to epoch.
#include <vector>

#include <torch/nn/module.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

namespace focus::train {

class WeightAverage {
 public:
  /// Starts the average at `model`'s current parameters and buffers.
  /// `decay` in (0, 1): the weight kept by the average at each step.
  WeightAverage(torch::nn::Module& model, double decay);

  /// The decay used at optimiser step `step` (counted from 0): min(decay,
  /// (1 + step) / (10 + step)), so that the random initial weights are
  /// forgotten quickly during the first steps.
  double decay_at(int64_t step) const;

  /// Moves the average towards `model`'s weights after optimiser step `step`.
  /// Floating-point buffers (batch-norm statistics) are averaged too, integer
  /// ones (batch counters) copied.
  void update(torch::nn::Module& model, int64_t step);

  /// Sets the average to `model`'s current weights.
  void assign_from(torch::nn::Module& model);

  /// Exchanges `model`'s weights with the average; a second call undoes it.
  void swap(torch::nn::Module& model);

  /// The averaged tensors, in the model's parameter-then-buffer order.
  const std::vector<torch::Tensor>& tensors() const { return average_; }

  void save(torch::serialize::OutputArchive& archive) const;
  /// Throws focus::Error (naming `origin`) if the archive does not fit the model.
  void load(torch::serialize::InputArchive& archive, const std::string& origin);

 private:
  std::vector<torch::Tensor> weights_of(torch::nn::Module& model) const;
  double decay_;
  std::vector<torch::Tensor> average_;
};

}  // namespace focus::train
