// Data-parallel training: sharding without overlap, two ranks (threads of this
// process, over loopback Gloo) with batch B equal one process with batch 2B,
// metrics summed over the ranks, a dead rank is an error and not a hang, and
// the torchrun environment is read and checked.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "focus/data/image_batch_source.h"
#include "focus/models/factory.h"
#include "focus/train/distributed.h"
#include "focus/train/trainer.h"
#include "focus/util/error.h"
#include "temp_dir.h"

using namespace focus;

namespace {

int64_t free_port() {
  static std::mt19937 rng(std::random_device{}());
  return std::uniform_int_distribution<int64_t>(20000, 60000)(rng);
}

data::ImageSet two_halves(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  auto labels = torch::arange(n, torch::kLong) % 2;
  auto images = torch::randint(0, 60, {n, 8, 8, 1}, torch::kLong);
  for (int64_t i = 0; i < n; ++i) {
    auto rows = labels[i].item<int64_t>() == 0 ? torch::indexing::Slice(0, 4) : torch::indexing::Slice(4, 8);
    images.index({i, rows}).add_(150);
  }
  return {images.to(torch::kUInt8), labels, {"top", "bottom"}, "synthetic"};
}

std::unique_ptr<data::ImageBatchSource> source(int64_t batch, data::Shard shard, bool shuffle, uint64_t seed) {
  data::AugmentConfig off;
  off.enabled = false;
  data::ImageBatchOptions o;
  o.batch_size = batch;
  o.shard = shard;
  o.shuffle = shuffle;
  return std::make_unique<data::ImageBatchSource>(two_halves(96, seed), data::ImageTransform({{0.3}, {0.3}}, off), o);
}

/// A small ViT: layer norm, no batch norm or dropout, so batch statistics cannot differ between the ranks.
std::shared_ptr<models::Classifier> vit(uint64_t seed) {
  torch::manual_seed(seed);
  util::Json spec = {{"arch", "vit"}, {"patch", 4}, {"dim", 16}, {"layers", 2}, {"heads", 2}, {"ff_dim", 32}, {"dropout", 0.0}};
  return models::build_model(spec, models::image_input(1, 2, 8, 8), "model");
}

/// SGD with momentum: AdamW divides each gradient by its running magnitude, which
/// turns the rounding noise of gradients that are zero in exact arithmetic (the
/// key projection's bias: softmax ignores a shift shared by all keys) into
/// updates of the order of the learning rate, in any reduction order.
train::TrainConfig config() {
  train::TrainConfig c;
  c.epochs = 2;
  c.optimizer.name = "sgd";
  c.optimizer.momentum = 0.9;
  c.optimizer.lr = 0.05;
  c.seed = 5;
  return c;
}

train::DistributedOptions options(int64_t rank, int64_t port) {
  train::DistributedOptions o;
  o.rank = rank;
  o.world_size = 2;
  o.master_port = port;
  o.timeout_seconds = 20;
  o.bucket_bytes = 4096;  // several buckets for a small model
  return o;
}

double max_difference(const torch::nn::Module& a, const torch::nn::Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  double worst = 0;
  for (const auto& p : pa) worst = std::max(worst, (p.value() - pb[p.key()]).abs().max().item<double>());
  return worst;
}

}  // namespace

TEST_CASE("shards: the ranks' rows of a batch are disjoint, balanced and cover it", "[train][distributed]") {
  for (int64_t n : {0, 1, 5, 32, 33}) {
    INFO(n);
    int64_t covered = 0;
    for (int64_t r = 0; r < 3; ++r) {
      const auto [first, last] = data::shard_rows(n, {r, 3});
      CHECK(first == covered);
      CHECK(last - first <= n / 3 + 1);
      covered = last;
    }
    CHECK(covered == n);
  }
  CHECK(data::shard_of({7, 8, 9, 10}, {1, 2}) == std::vector<int64_t>{9, 10});
  // Two sharded image sources give, batch by batch, exactly the unsharded batch's rows.
  auto all = source(32, {}, true, 1), s0 = source(32, {0, 2}, true, 1), s1 = source(32, {1, 2}, true, 1);
  auto whole = all->epoch(3, 1);  // streams read from their source: keep it alive
  auto r0 = s0->epoch(3, 1), r1 = s1->epoch(3, 1);
  while (auto w = whole->next()) {
    auto a = r0->next(), b = r1->next();
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->size() == 16);
    CHECK(torch::equal(torch::cat({a->inputs, b->inputs}), w->inputs));
    CHECK(torch::equal(torch::cat({a->targets, b->targets}), w->targets));
  }
  CHECK_FALSE(r0->next());
}

TEST_CASE("two ranks with batch B train the same weights as one process with batch 2B", "[train][distributed]") {
  testing::TempDir single_dir, dir0, dir1;
  auto single = vit(11);
  auto train_all = source(32, {}, true, 1), val = source(32, {}, false, 2);
  auto single_result = train::Trainer(single, config(), torch::kCPU, util::RunDirectory::create(single_dir.path()))
                           .fit(*train_all, *val, {});

  auto m0 = vit(11), m1 = vit(99);  // rank 1 starts elsewhere: rank 0's weights are broadcast
  REQUIRE(max_difference(*m0, *m1) > 0.01);
  const int64_t port = free_port();
  // Built here: the data generator seeds LibTorch's global generator, which the rank threads must not race on.
  std::vector<std::unique_ptr<data::ImageBatchSource>> parts, vals;
  for (int64_t rank = 0; rank < 2; ++rank) {
    parts.push_back(source(32, {rank, 2}, true, 1));
    vals.push_back(source(32, {}, false, 2));
  }
  auto run_rank = [&](int64_t rank, std::shared_ptr<models::Classifier> model, const std::filesystem::path& dir) {
    auto group = train::ProcessGroup::join(options(rank, port));
    train::FitOptions fit;
    fit.group = group;
    fit.bucket_bytes = 4096;
    fit.show_progress = false;
    return train::Trainer(model, config(), torch::kCPU, util::RunDirectory::create(dir))
        .fit(*parts[static_cast<size_t>(rank)], *vals[static_cast<size_t>(rank)], fit);
  };
  auto other = std::async(std::launch::async, run_rank, 1, m1, dir1.path());
  auto r0 = run_rank(0, m0, dir0.path());
  auto r1 = other.get();

  CHECK(max_difference(*m0, *vit(11)) > 1e-3);  // it trained
  CHECK(max_difference(*m0, *m1) == 0.0);       // the ranks agree exactly
  CHECK(max_difference(*m0, *single) < 1e-5);
  CHECK(r0.state.best_metric == Approx(single_result.state.best_metric).margin(1e-6));
  CHECK(r1.state.best_metric == r0.state.best_metric);
  // Only rank 0 writes; its metrics are over both ranks' examples.
  CHECK(std::filesystem::exists(dir0 / "checkpoint.pt"));
  CHECK_FALSE(std::filesystem::exists(dir1 / "checkpoint.pt"));
  CHECK_FALSE(std::filesystem::exists(dir1 / "metrics.jsonl"));
  auto first_line = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    std::string line;
    std::getline(in, line);
    return util::Json::parse(line);
  };
  auto a = first_line(dir0 / "metrics.jsonl"), b = first_line(single_dir / "metrics.jsonl");
  CHECK(a["train_loss"].get<double>() == Approx(b["train_loss"].get<double>()).epsilon(1e-5));
  CHECK(a["train_accuracy"].get<double>() == b["train_accuracy"].get<double>());
}

TEST_CASE("a rank that dies makes the others fail with an error, not hang", "[train][distributed]") {
  const int64_t port = free_port();
  auto o0 = options(0, port), o1 = options(1, port);
  o0.timeout_seconds = o1.timeout_seconds = 10;
  auto quitter = std::async(std::launch::async, [&] {
    auto group = train::ProcessGroup::join(o1);
    std::vector<double> v = {1.0};
    group->sum(v);  // one collective together, then this rank goes away
  });
  auto group = train::ProcessGroup::join(o0);
  std::vector<double> v = {2.0};
  group->sum(v);
  CHECK(v[0] == 3.0);
  quitter.get();
  const auto start = std::chrono::steady_clock::now();
  std::vector<double> again = {1.0};
  CHECK_THROWS_WITH(group->sum(again), Catch::Contains("another rank died or stopped answering"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
}

TEST_CASE("torchrun's environment: read, overridden by nothing, checked", "[train][distributed]") {
  struct Env {
    std::vector<std::string> names;
    void set(const std::string& n, const std::string& v) {
      names.push_back(n);
      setenv(n.c_str(), v.c_str(), 1);
    }
    ~Env() {
      for (const auto& n : names) unsetenv(n.c_str());
    }
  };
  {
    Env env;
    env.set("RANK", "1");
    env.set("WORLD_SIZE", "4");
    env.set("MASTER_ADDR", "10.0.0.7");
    env.set("MASTER_PORT", "1234");
    env.set("LOCAL_RANK", "1");
    auto o = train::distributed_from_environment({});
    CHECK(o.rank == 1);
    CHECK(o.world_size == 4);
    CHECK(o.master_addr == "10.0.0.7");
    CHECK(o.master_port == 1234);
    CHECK(o.local_rank == 1);
  }
  {
    Env env;
    env.set("RANK", "2");
    env.set("WORLD_SIZE", "2");
    CHECK_THROWS_WITH(train::distributed_from_environment({}), Catch::Contains("rank 2 is outside the world of 2"));
  }
  {
    Env env;
    env.set("WORLD_SIZE", "two");
    CHECK_THROWS_WITH(train::distributed_from_environment({}), Catch::Contains("WORLD_SIZE='two'"));
  }
  auto o = options(1, free_port());
  o.timeout_seconds = 2;
  CHECK_THROWS_WITH(train::ProcessGroup::join(o), Catch::Contains("rendezvous"));
}
