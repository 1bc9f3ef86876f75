// Checkpoints round-trip, detect damage; the learning-rate schedule.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <fstream>

#include "focus/train/checkpoint.h"
#include "focus/train/optimizer.h"
#include "focus/util/atomic_file.h"
#include "focus/util/error.h"
#include "temp_dir.h"

using namespace focus::train;

TEST_CASE("A checkpoint restores weights, optimiser, loop state and RNG", "[train]") {
  focus::testing::TempDir dir;
  torch::manual_seed(0);
  torch::nn::Linear a(4, 3);
  auto opt = make_optimizer(*a, {});
  a(torch::randn({2, 4})).sum().backward();
  opt->step();
  LoopState s;
  s.epoch = 3;
  s.step = 42;
  s.best_metric = 0.9;
  s.best_epoch = 2;
  s.bad_epochs = 1;
  save_checkpoint(dir / "c.pt", *a, opt.get(), s);
  const auto after_save = torch::rand({3});  // consumes RNG

  torch::nn::Linear b(4, 3);
  auto opt_b = make_optimizer(*b, {});
  LoopState t;
  load_checkpoint(dir / "c.pt", *b, opt_b.get(), &t, true);
  CHECK(torch::equal(a->weight, b->weight));
  CHECK(t.epoch == 3);
  CHECK(t.step == 42);
  CHECK(t.best_metric == Approx(0.9));
  CHECK(t.bad_epochs == 1);
  CHECK(torch::equal(torch::rand({3}), after_save));  // RNG restored to the saved point
  // The optimiser state (Adam moments) came back: one more identical step keeps them equal.
  opt->zero_grad();
  opt_b->zero_grad();
  for (auto* m : {&a, &b}) (*m)(torch::ones({1, 4})).sum().backward();
  opt->step();
  opt_b->step();
  CHECK(torch::allclose(a->weight, b->weight));
}

TEST_CASE("Damaged checkpoints are reported, not loaded", "[train]") {
  focus::testing::TempDir dir;
  torch::nn::Linear a(4, 3);
  save_checkpoint(dir / "c.pt", *a, nullptr, {});
  std::string bytes = focus::util::read_file(dir / "c.pt");
  focus::util::write_file_atomic(dir / "cut.pt", bytes.substr(0, bytes.size() - 10));
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x5a;
  focus::util::write_file_atomic(dir / "flip.pt", flipped);
  focus::util::write_file_atomic(dir / "junk.pt", "not a checkpoint at all, but long enough to hold a header");
  torch::nn::Linear b(4, 3);
  CHECK_THROWS_WITH(load_checkpoint(dir / "cut.pt", *b, nullptr, nullptr, false),
                    Catch::Contains("cut.pt") && Catch::Contains("truncated"));
  CHECK_THROWS_WITH(load_checkpoint(dir / "flip.pt", *b, nullptr, nullptr, false), Catch::Contains("checksum"));
  CHECK_THROWS_WITH(load_checkpoint(dir / "junk.pt", *b, nullptr, nullptr, false),
                    Catch::Contains("not a Focus checkpoint"));
  CHECK_THROWS_WITH(load_checkpoint(dir / "none.pt", *b, nullptr, nullptr, false), Catch::Contains("not found"));
  torch::nn::Linear wrong(5, 3);
  CHECK_THROWS_WITH(load_checkpoint(dir / "c.pt", *wrong, nullptr, nullptr, false),
                    Catch::Contains("does not fit this model"));
  torch::nn::Sequential two(torch::nn::Linear(4, 3), torch::nn::Linear(3, 3)), one(torch::nn::Linear(4, 3));
  save_checkpoint(dir / "two.pt", *two, nullptr, {});
  CHECK_THROWS_WITH(load_checkpoint(dir / "two.pt", *one, nullptr, nullptr, false),
                    Catch::Contains("holds 1") && Catch::Contains("which the model does not have"));
  CHECK_THROWS_WITH(load_checkpoint(dir / "c.pt", *b, make_optimizer(*b, {}).get(), nullptr, false),
                    Catch::Contains("no optimiser state"));
}

TEST_CASE("Warmup then cosine decay reaches the floor at the last step", "[train]") {
  OptimizerConfig o;
  o.lr = 1.0;
  ScheduleConfig s;
  s.warmup_epochs = 1;
  s.min_lr_ratio = 0.1;
  // 10 steps per epoch, 3 epochs: warmup over steps 0..9, cosine over 10..29.
  CHECK(learning_rate_at(o, s, 0, 10, 3) == Approx(0.1));
  CHECK(learning_rate_at(o, s, 9, 10, 3) == Approx(1.0));
  CHECK(learning_rate_at(o, s, 19, 10, 3) == Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 10.0 / 20.0))));
  CHECK(learning_rate_at(o, s, 29, 10, 3) == Approx(0.1));
  s.name = "constant";
  CHECK(learning_rate_at(o, s, 25, 10, 3) == Approx(1.0));
}
