#include "focus/train/weight_average.h"

#include <algorithm>
#include <sstream>

#include "focus/util/error.h"

namespace focus::train {

std::vector<torch::Tensor> WeightAverage::weights_of(torch::nn::Module& model) const {
  std::vector<torch::Tensor> out;
  for (auto& p : model.parameters()) out.push_back(p.detach());
  for (auto& b : model.buffers()) out.push_back(b.detach());
  if (!average_.empty() && out.size() != average_.size())
    throw Error("weight average: the model has " + std::to_string(out.size()) + " tensors, the average " +
                std::to_string(average_.size()));
  return out;
}

WeightAverage::WeightAverage(torch::nn::Module& model, double decay) : decay_(decay) {
  if (!(decay > 0 && decay < 1))
    throw Error("weight average: decay must be in (0, 1), found " + std::to_string(decay));
  torch::NoGradGuard no_grad;
  for (auto& t : weights_of(model)) average_.push_back(t.clone());
}

double WeightAverage::decay_at(int64_t step) const {
  const double s = static_cast<double>(std::max<int64_t>(step, 0));
  return std::min(decay_, (1.0 + s) / (10.0 + s));
}

void WeightAverage::update(torch::nn::Module& model, int64_t step) {
  torch::NoGradGuard no_grad;
  const double d = decay_at(step);
  const auto current = weights_of(model);
  for (size_t i = 0; i < current.size(); ++i) {
    if (average_[i].is_floating_point())
      average_[i].lerp_(current[i], 1.0 - d);
    else
      average_[i].copy_(current[i]);
  }
}

void WeightAverage::assign_from(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  const auto current = weights_of(model);
  for (size_t i = 0; i < current.size(); ++i) average_[i].copy_(current[i]);
}

void WeightAverage::swap(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  const auto current = weights_of(model);
  for (size_t i = 0; i < current.size(); ++i) {
    auto kept = current[i].clone();
    current[i].copy_(average_[i]);
    average_[i].copy_(kept);
  }
}

void WeightAverage::save(torch::serialize::OutputArchive& archive) const {
  for (size_t i = 0; i < average_.size(); ++i) archive.write(std::to_string(i), average_[i], /*is_buffer=*/true);
}

void WeightAverage::load(torch::serialize::InputArchive& archive, const std::string& origin) {
  torch::NoGradGuard no_grad;
  const auto keys = archive.keys();
  if (keys.size() != average_.size())
    throw Error(origin + ": the weight average holds " + std::to_string(keys.size()) + " tensors, the model " +
                std::to_string(average_.size()) + " (was the recipe changed?)");
  for (size_t i = 0; i < average_.size(); ++i) {
    torch::Tensor t;
    if (!archive.try_read(std::to_string(i), t, /*is_buffer=*/true) || t.sizes() != average_[i].sizes()) {
      std::ostringstream msg;
      msg << origin << ": the weight average's tensor " << i << " does not fit the model (expected "
          << average_[i].sizes() << ")";
      throw Error(msg.str());
    }
    average_[i].copy_(t);  // keeps the average's device and memory layout
  }
}

}  // namespace focus::train
