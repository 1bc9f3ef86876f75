// The training loop: it learns, and an interrupted + resumed run equals an
// uninterrupted one.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <fstream>

#include "focus/data/image_batch_source.h"
#include "focus/models/factory.h"
#include "focus/train/inference.h"
#include "focus/train/trainer.h"
#include "temp_dir.h"

using namespace focus;

namespace {
// Two easy classes: bright top half vs bright bottom half, with noise.
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

struct Setup {
  std::unique_ptr<data::ImageBatchSource> train, val;
  train::TrainConfig config;
};

Setup make_setup(int workers) {
  data::AugmentConfig aug;
  aug.crop_padding = 1;
  aug.horizontal_flip = true;
  data::AugmentConfig off;
  off.enabled = false;
  data::ImageBatchOptions o;
  o.batch_size = 16;
  o.shuffle = true;
  o.parallel.workers = workers;
  data::Normalization norm{{0.3}, {0.3}};
  Setup s;
  s.train = std::make_unique<data::ImageBatchSource>(two_halves(96, 1), data::ImageTransform(norm, aug), o);
  o.shuffle = false;
  s.val = std::make_unique<data::ImageBatchSource>(two_halves(32, 2), data::ImageTransform(norm, off), o);
  s.config.epochs = 2;
  s.config.optimizer.lr = 0.01;
  s.config.seed = 3;
  return s;
}

std::shared_ptr<models::Classifier> small_model() {
  torch::manual_seed(11);
  util::Json spec = {{"arch", "attncnn"}, {"stem_channels", 8}, {"dropout", 0.3},
                     {"stages", {{{"channels", 8}, {"attention", "cbam"}, {"stride", 2}}}}};
  return models::build_model(spec, models::image_input(1, 2), "model");
}
/// Trains a fresh small_model() in `dir` for one epoch, stops as if interrupted,
/// then resumes another fresh one to the end; returns the resumed model.
std::shared_ptr<models::Classifier> train_interrupted(const Setup& s, const std::filesystem::path& dir) {
  train::FitOptions first;
  first.stop_after_epoch = 1;
  train::Trainer(small_model(), s.config, torch::kCPU, util::RunDirectory::create(dir)).fit(*s.train, *s.val, first);
  auto resumed = small_model();
  train::FitOptions resume;
  resume.resume = true;
  train::Trainer(resumed, s.config, torch::kCPU, util::RunDirectory::create(dir)).fit(*s.train, *s.val, resume);
  return resumed;
}
}  // namespace

TEST_CASE("Trainer learns a separable problem and writes the run files", "[train]") {
  testing::TempDir dir;
  auto s = make_setup(2);
  s.config.epochs = 4;
  auto model = small_model();
  train::Trainer trainer(model, s.config, torch::kCPU, util::RunDirectory::create(dir.path()));
  auto result = trainer.fit(*s.train, *s.val, {});
  CHECK(result.state.epoch == 4);
  CHECK(result.state.best_metric >= 0.9);  // validation accuracy
  CHECK(std::filesystem::exists(dir / "checkpoint.pt"));
  CHECK(std::filesystem::exists(dir / "best.pt"));
  CHECK(std::filesystem::exists(dir / "metrics.jsonl"));
}

TEST_CASE("Two epochs equal one epoch + resume + one epoch", "[train]") {
  testing::TempDir a_dir, b_dir;
  auto s = make_setup(2);
  auto a = small_model();
  train::Trainer(a, s.config, torch::kCPU, util::RunDirectory::create(a_dir.path())).fit(*s.train, *s.val, {});

  auto b = small_model();
  train::FitOptions first;
  first.stop_after_epoch = 1;
  auto r1 = train::Trainer(b, s.config, torch::kCPU, util::RunDirectory::create(b_dir.path()))
                .fit(*s.train, *s.val, first);
  CHECK(r1.state.epoch == 1);
  torch::manual_seed(999);  // a fresh process would have another RNG state: resume must restore it
  auto c = small_model();
  train::FitOptions resume;
  resume.resume = true;
  auto r2 = train::Trainer(c, s.config, torch::kCPU, util::RunDirectory::create(b_dir.path()))
                .fit(*s.train, *s.val, resume);
  CHECK(r2.state.epoch == 2);
  auto pa = a->named_parameters(), pc = c->named_parameters();
  for (const auto& p : pa) {
    INFO(p.key());
    CHECK(torch::allclose(p.value(), pc[p.key()], 1e-5, 1e-6));
  }
  auto ba = a->named_buffers(), bc = c->named_buffers();
  for (const auto& p : ba) {
    INFO(p.key());
    CHECK(torch::allclose(p.value().to(torch::kDouble), bc[p.key()].to(torch::kDouble), 1e-5, 1e-6));
  }
}

TEST_CASE("Early stopping stops after `patience` epochs without improvement", "[train]") {
  testing::TempDir dir;
  auto s = make_setup(0);
  s.config.epochs = 30;
  s.config.monitor = "val_loss";
  s.config.min_delta = 100.0;  // only the first epoch (from +inf) counts as an improvement
  s.config.patience = 2;
  auto r = train::Trainer(small_model(), s.config, torch::kCPU, util::RunDirectory::create(dir.path()))
               .fit(*s.train, *s.val, {});
  CHECK(r.stopped_early);
  CHECK(r.state.epoch == 3);
  CHECK(r.state.best_epoch == 1);
}

TEST_CASE("to_channels_last converts the 4-d tensors and keeps their values", "[train]") {
  auto model = small_model();
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : model->named_parameters()) before[p.key()] = p.value().clone();
  auto canonical = [](const torch::Tensor& t) { return t.strides() == c10::get_channels_last_strides_2d(t.sizes()); };
  int64_t to_convert = 0, ambiguous = 0;  // ambiguous: NCHW strides that also pass is_contiguous(ChannelsLast)
  for (const auto& p : model->parameters()) {
    to_convert += p.dim() == 4 && !canonical(p);
    ambiguous += p.dim() == 4 && !canonical(p) && p.is_contiguous(torch::MemoryFormat::ChannelsLast);
  }
  REQUIRE(ambiguous > 0);  // the 1-channel stem and the 1x1 shortcut
  REQUIRE(to_convert > ambiguous);
  CHECK(train::to_channels_last(*model) == to_convert);
  CHECK(train::to_channels_last(*model) == 0);  // already converted
  for (const auto& p : model->named_parameters()) {
    INFO(p.key());
    if (p.value().dim() == 4) CHECK(canonical(p.value()));
    CHECK(torch::equal(p.value(), before[p.key()]));
    CHECK(p.value().requires_grad());
  }
}

TEST_CASE("Channels-last training resumes exactly and matches the default memory order", "[train]") {
  testing::TempDir a_dir, b_dir, c_dir;
  auto s = make_setup(2);
  s.config.channels_last = true;
  auto a = small_model();
  train::Trainer(a, s.config, torch::kCPU, util::RunDirectory::create(a_dir.path())).fit(*s.train, *s.val, {});
  for (const auto& p : a->parameters())
    if (p.dim() == 4) CHECK(p.is_contiguous(torch::MemoryFormat::ChannelsLast));

  auto c = train_interrupted(s, b_dir.path());

  auto plain_config = s.config;
  plain_config.channels_last = false;
  auto d = small_model();
  train::Trainer(d, plain_config, torch::kCPU, util::RunDirectory::create(c_dir.path())).fit(*s.train, *s.val, {});

  auto pa = a->named_parameters(), pc = c->named_parameters(), pd = d->named_parameters();
  for (const auto& p : pa) {
    INFO(p.key());
    if (p.value().dim() == 4) CHECK(pc[p.key()].is_contiguous(torch::MemoryFormat::ChannelsLast));
    CHECK(torch::allclose(p.value(), pc[p.key()], 1e-5, 1e-6));  // resumed == uninterrupted
    CHECK(torch::allclose(p.value(), pd[p.key()], 1e-3, 1e-4));  // only rounding differs from NCHW
  }
}

TEST_CASE("Flip test-time augmentation averages the probabilities of each image and its mirror image", "[train]") {
  auto s = make_setup(0);
  auto model = small_model();
  model->eval();
  train::InferenceOptions flip;
  flip.average_flipped = true;
  const auto plain = train::run_inference(*model, *s.val, torch::kCPU);
  const auto tta = train::run_inference(*model, *s.val, torch::kCPU, flip);
  REQUIRE(tta.count == s.val->size());

  std::vector<torch::Tensor> expected, targets;
  auto stream = s.val->epoch(0, 0);
  torch::NoGradGuard no_grad;
  while (auto batch = stream->next()) {
    auto mirrored = *batch;
    mirrored.inputs = batch->inputs.flip({3});
    expected.push_back((torch::softmax(model->forward(*batch), 1) + torch::softmax(model->forward(mirrored), 1)) / 2);
    targets.push_back(batch->targets);
  }
  const auto p = torch::cat(expected);
  CHECK(torch::allclose(tta.probabilities, p, 1e-5, 1e-6));
  CHECK_FALSE(torch::allclose(tta.probabilities, plain.probabilities, 1e-3, 1e-4));  // the mirror image counted
  CHECK(tta.targets.equal(torch::cat(targets)));
  const double nll = -p.gather(1, tta.targets.unsqueeze(1)).log().mean().item<double>();
  CHECK(tta.loss == Approx(nll).epsilon(1e-4));
  CHECK(tta.accuracy == Approx(p.argmax(1).eq(tta.targets).to(torch::kDouble).mean().item<double>()));
}

TEST_CASE("A weight average is validated, saved as the model, and resumes exactly", "[train]") {
  testing::TempDir a_dir, b_dir, plain_dir;
  auto s = make_setup(0);
  s.config.ema_decay = 0.9;
  auto a = small_model();
  train::Trainer(a, s.config, torch::kCPU, util::RunDirectory::create(a_dir.path())).fit(*s.train, *s.val, {});

  // checkpoint.pt: "model" is the average, the training weights are kept for resuming.
  auto averaged = small_model(), training = small_model();
  train::load_checkpoint(a_dir / "checkpoint.pt", *averaged, nullptr, nullptr, false);
  train::WeightAverage average(*training, 0.9);
  train::load_checkpoint(a_dir / "checkpoint.pt", *training, nullptr, nullptr, false, &average);
  auto pa = a->named_parameters(), pt = training->named_parameters(), pavg = averaged->named_parameters();
  bool differs = false;
  for (const auto& p : pa) {
    INFO(p.key());
    CHECK(p.value().equal(pt[p.key()]));
    differs = differs || !p.value().equal(pavg[p.key()]);
  }
  CHECK(differs);
  size_t i = 0;
  for (const auto& p : averaged->parameters()) CHECK(p.equal(average.tensors()[i++]));

  // The logged validation loss of the last epoch is the averaged weights'.
  std::ifstream metrics(a_dir / "metrics.jsonl");
  std::string line, last;
  while (std::getline(metrics, line)) last = line;
  const double logged = util::Json::parse(last).at("val_loss").get<double>();
  averaged->eval();
  CHECK(train::run_inference(*averaged, *s.val, torch::kCPU).loss == Approx(logged).epsilon(1e-6));

  // Interrupted after epoch 1 and resumed: the same weights and the same average.
  auto c = train_interrupted(s, b_dir.path());
  auto c_averaged = small_model();
  train::load_checkpoint(b_dir / "checkpoint.pt", *c_averaged, nullptr, nullptr, false);
  auto pc = c->named_parameters(), pcavg = c_averaged->named_parameters();
  for (const auto& p : pa) {
    INFO(p.key());
    CHECK(torch::allclose(p.value(), pc[p.key()], 1e-5, 1e-6));
    CHECK(torch::allclose(pavg[p.key()], pcavg[p.key()], 1e-5, 1e-6));
  }

  // A checkpoint written without an average cannot resume a run that keeps one.
  auto plain_config = s.config;
  plain_config.ema_decay = 0;
  train::FitOptions first, resume;
  first.stop_after_epoch = 1;
  resume.resume = true;
  train::Trainer(small_model(), plain_config, torch::kCPU, util::RunDirectory::create(plain_dir.path()))
      .fit(*s.train, *s.val, first);
  CHECK_THROWS_WITH(train::Trainer(small_model(), s.config, torch::kCPU, util::RunDirectory::create(plain_dir.path()))
                        .fit(*s.train, *s.val, resume),
                    Catch::Contains("no weight average") && Catch::Contains("checkpoint.pt"));
}
