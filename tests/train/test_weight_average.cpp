// The exponential moving average of the weights: the update rule, swapping
// it in and out, and saving it.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/train/weight_average.h"
#include "focus/util/error.h"

using namespace focus;

namespace {
struct Net : torch::nn::Module {
  Net() {
    fc = register_module("fc", torch::nn::Linear(3, 2));
    bn = register_module("bn", torch::nn::BatchNorm1d(2));
  }
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};

std::vector<torch::Tensor> weights(Net& n) {
  std::vector<torch::Tensor> out;
  for (auto& p : n.parameters()) out.push_back(p.detach().clone());
  for (auto& b : n.buffers()) out.push_back(b.detach().clone());
  return out;
}

void shift(Net& n, double by) {
  torch::NoGradGuard no_grad;
  for (auto& p : n.parameters()) p.add_(by);
  for (auto& b : n.buffers())
    if (b.is_floating_point()) b.add_(by);
    else b.add_(1);  // num_batches_tracked
}
}  // namespace

TEST_CASE("WeightAverage follows a_{t+1} = d a_t + (1 - d) w with the warm-up decay", "[train]") {
  torch::manual_seed(1);
  Net net;
  train::WeightAverage avg(net, 0.9);
  CHECK(avg.decay_at(0) == Approx(0.1));          // (1 + 0) / (10 + 0)
  CHECK(avg.decay_at(80) == Approx(81.0 / 90.0));  // still below 0.9
  CHECK(avg.decay_at(1000) == Approx(0.9));
  auto a = weights(net);
  for (int64_t step = 0; step < 3; ++step) {
    shift(net, 1.0 + static_cast<double>(step));
    const double d = avg.decay_at(step);
    auto w = weights(net);
    avg.update(net, step);
    for (size_t i = 0; i < a.size(); ++i) {
      INFO("tensor " << i << " step " << step);
      if (a[i].is_floating_point()) {
        a[i] = d * a[i] + (1 - d) * w[i];
        CHECK(torch::allclose(avg.tensors()[i], a[i], 1e-6, 1e-6));
        CHECK_FALSE(torch::allclose(avg.tensors()[i], w[i]));  // lags behind the weights
      } else {
        a[i] = w[i];
        CHECK(avg.tensors()[i].equal(w[i]));  // integer buffers are copied
      }
    }
  }
}

TEST_CASE("WeightAverage swaps in and out, assigns, saves and loads", "[train]") {
  torch::manual_seed(2);
  Net net;
  train::WeightAverage avg(net, 0.5);
  shift(net, 3.0);
  avg.update(net, 100);  // decay 0.5: halfway
  const auto training = weights(net);
  std::vector<torch::Tensor> averaged;
  for (const auto& t : avg.tensors()) averaged.push_back(t.clone());

  avg.swap(net);
  auto now = weights(net);
  for (size_t i = 0; i < now.size(); ++i) CHECK(now[i].equal(averaged[i]));
  avg.swap(net);
  now = weights(net);
  for (size_t i = 0; i < now.size(); ++i) {
    CHECK(now[i].equal(training[i]));
    CHECK(avg.tensors()[i].equal(averaged[i]));
  }

  torch::serialize::OutputArchive out;
  avg.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  const std::string data = bytes.str();

  Net other;
  train::WeightAverage loaded(other, 0.5);
  torch::serialize::InputArchive in;
  in.load_from(data.data(), data.size());
  loaded.load(in, "saved");
  for (size_t i = 0; i < averaged.size(); ++i) CHECK(loaded.tensors()[i].equal(averaged[i]));

  loaded.assign_from(net);
  for (size_t i = 0; i < training.size(); ++i) CHECK(loaded.tensors()[i].equal(training[i]));

  struct Small : torch::nn::Module {
    Small() { register_module("fc", torch::nn::Linear(3, 2)); }
  } small;
  train::WeightAverage wrong(small, 0.5);
  torch::serialize::InputArchive again;
  again.load_from(data.data(), data.size());
  CHECK_THROWS_WITH(wrong.load(again, "saved"), Catch::Contains("saved") && Catch::Contains("recipe changed"));
  CHECK_THROWS_AS(train::WeightAverage(net, 1.0), Error);
  CHECK_THROWS_AS(train::WeightAverage(net, 0.0), Error);
}
