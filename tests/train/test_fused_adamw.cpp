// FusedAdamW against LibTorch's AdamW: the same parameters after several steps, on
// the fused loop's path and on each case that takes ATen's calls, and checkpoints
// that load into either.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <sstream>

#include "focus/train/fused_adamw.h"
#include "thread_count.h"

using focus::train::FusedAdamW;

namespace {

// Parameters of the kinds a model has: a channels-last convolution weight (73,728
// values: at 2 threads the loop's 32k-value chunks cut it, and one chunk runs from its
// end into the next parameters), a bias, a matrix, and a double-precision vector
// (which takes ATen's calls).
std::vector<torch::Tensor> make_parameters() {
  torch::manual_seed(3);
  return {torch::randn({128, 64, 3, 3}).contiguous(at::MemoryFormat::ChannelsLast).requires_grad_(true),
          torch::randn({64}).requires_grad_(true), torch::randn({10, 7}).requires_grad_(true),
          torch::randn({5}, torch::kDouble).requires_grad_(true)};
}

std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone(at::MemoryFormat::Preserve).requires_grad_(true));
  return out;
}

// Two groups as focus::train::make_optimizer builds them: with and without weight decay.
template <class Optim>
std::unique_ptr<torch::optim::Optimizer> make(const std::vector<torch::Tensor>& params, bool amsgrad) {
  auto base = torch::optim::AdamWOptions(0.01).betas({0.9, 0.99}).eps(1e-6).amsgrad(amsgrad);
  auto with = std::make_unique<torch::optim::AdamWOptions>(base);
  with->weight_decay(0.1);
  auto without = std::make_unique<torch::optim::AdamWOptions>(base);
  without->weight_decay(0);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{params[0], params[2]}, std::move(with));
  groups.emplace_back(std::vector<torch::Tensor>{params[1], params[3]}, std::move(without));
  return std::make_unique<Optim>(std::move(groups), base);
}

// Gives every parameter the same pseudo-random gradient on both sides; the third
// parameter's gradient is a transposed view (strides unlike its parameter's) on
// even steps.
void set_gradients(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b, int step) {
  torch::manual_seed(100 + step);
  for (size_t i = 0; i < a.size(); ++i) {
    auto g = torch::randn(a[i].sizes(), a[i].options().requires_grad(false)) * (1 + step);
    if (i == 2 && step % 2 == 0) g = torch::randn({7, 10}).t();
    if (i == 0) g = g.contiguous(at::MemoryFormat::ChannelsLast);
    a[i].mutable_grad() = g.clone(at::MemoryFormat::Preserve);
    b[i].mutable_grad() = g.clone(at::MemoryFormat::Preserve);
  }
}

void require_close(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("parameter " << i << ", largest difference " << (a[i] - b[i]).abs().max().item<double>());
    REQUIRE(torch::allclose(a[i], b[i], 1e-5, 1e-6));
  }
}

}  // namespace

TEST_CASE("FusedAdamW follows torch::optim::AdamW step for step", "[train][optimizer]") {
  for (bool amsgrad : {false, true}) {
    for (int t : {1, 2}) {
      DYNAMIC_SECTION("amsgrad " << amsgrad << ", " << t << " threads") {
        focus::testing::ThreadCount threads(t);
        auto ours = make_parameters(), theirs = copies(ours);
        auto fused = make<FusedAdamW>(ours, amsgrad);
        auto reference = make<torch::optim::AdamW>(theirs, amsgrad);
        for (int step = 0; step < 6; ++step) {
          set_gradients(ours, theirs, step);
          fused->step();
          reference->step();
        }
        require_close(ours, theirs);
        // The parameters moved: a step that did nothing would also match.
        REQUIRE_FALSE(torch::allclose(ours[0], make_parameters()[0]));
      }
    }
  }
}

TEST_CASE("FusedAdamW skips parameters without a gradient and honours the learning rate it is given",
          "[train][optimizer]") {
  auto ours = make_parameters(), theirs = copies(ours);
  auto fused = make<FusedAdamW>(ours, false);
  auto reference = make<torch::optim::AdamW>(theirs, false);
  for (auto* opt : {fused.get(), reference.get()})
    for (auto& group : opt->param_groups()) group.options().set_lr(0.05);
  set_gradients(ours, theirs, 1);
  ours[1].mutable_grad() = torch::Tensor();
  theirs[1].mutable_grad() = torch::Tensor();
  const auto before = ours[1].detach().clone();
  fused->step();
  reference->step();
  require_close(ours, theirs);
  REQUIRE(torch::equal(ours[1], before));
}

TEST_CASE("FusedAdamW's checkpoints load into torch::optim::AdamW and back", "[train][optimizer]") {
  auto ours = make_parameters(), theirs = copies(ours);
  auto fused = make<FusedAdamW>(ours, false);
  for (int step = 0; step < 3; ++step) {
    set_gradients(ours, theirs, step);
    fused->step();
  }
  for (size_t i = 0; i < ours.size(); ++i) theirs[i].detach().copy_(ours[i].detach());
  std::stringstream saved;
  {
    torch::serialize::OutputArchive archive;
    fused->save(archive);
    archive.save_to(saved);
  }
  auto reference = make<torch::optim::AdamW>(theirs, false);
  {
    torch::serialize::InputArchive archive;
    archive.load_from(saved);
    reference->load(archive);
  }
  for (int step = 3; step < 5; ++step) {
    set_gradients(ours, theirs, step);
    fused->step();
    reference->step();
  }
  require_close(ours, theirs);
}

TEST_CASE("FusedAdamW updates a parameter listed twice as torch::optim::AdamW does", "[train][optimizer]") {
  // A module registered under two names lists its parameters twice: LibTorch updates them
  // twice, one after the other, and the fused loop must not interleave the two.
  focus::testing::ThreadCount threads(2);
  torch::manual_seed(5);
  auto shared = torch::randn({256, 200}).requires_grad_(true);
  auto copy = shared.detach().clone().requires_grad_(true);
  FusedAdamW fused(std::vector<torch::Tensor>{shared, shared}, torch::optim::AdamWOptions(0.01));
  torch::optim::AdamW reference(std::vector<torch::Tensor>{copy, copy}, torch::optim::AdamWOptions(0.01));
  for (int step = 0; step < 3; ++step) {
    auto g = torch::randn({256, 200});
    shared.mutable_grad() = g.clone();
    copy.mutable_grad() = g.clone();
    fused.step();
    reference.step();
  }
  require_close({shared}, {copy});
}
