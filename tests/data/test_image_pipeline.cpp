// Normalisation, per-image transforms and the parallel batch stream.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/data/image_batch_source.h"
#include "focus/data/normalization.h"
#include "focus/util/error.h"

using namespace focus::data;

namespace {
ImageSet synthetic(int64_t n, int64_t h, int64_t w, int64_t c) {
  torch::manual_seed(5);
  ImageSet s;
  s.images = torch::randint(0, 256, {n, h, w, c}, torch::kUInt8);
  s.labels = torch::arange(n, torch::kLong) % 3;
  s.class_names = {"a", "b", "c"};
  s.source = "synthetic";
  return s;
}
}  // namespace

TEST_CASE("compute_normalization gives per-channel mean and std", "[data]") {
  ImageSet s;
  s.images = torch::tensor({0, 255, 255, 255}, torch::kUInt8).view({2, 1, 1, 2});
  s.labels = torch::zeros({2}, torch::kLong);
  auto n = compute_normalization(s);
  REQUIRE(n.mean.size() == 2);
  CHECK(n.mean[0] == Approx(0.5));
  CHECK(n.mean[1] == Approx(1.0));
  CHECK(n.std[0] == Approx(0.5));
  auto back = normalization_from_json(to_json(n), "n");
  CHECK(back.std[0] == Approx(0.5));
  CHECK_THROWS_AS(normalization_from_json({{"mean", {0.1}}, {"std", {0.0}}}, "n"), focus::Error);
}

TEST_CASE("ImageTransform without augmentation only normalises into CHW", "[data]") {
  auto s = synthetic(1, 3, 4, 2);
  AugmentConfig off;
  off.enabled = false;
  ImageTransform t({{0.5, 0.25}, {0.2, 0.5}}, off);
  std::vector<float> out(24);
  std::mt19937_64 rng(1);
  t.apply(s.images.data_ptr<uint8_t>(), 3, 4, 2, rng, out.data());
  auto expected = ((s.images[0].permute({2, 0, 1}).to(torch::kFloat) / 255.0) -
                   torch::tensor({0.5, 0.25}).view({2, 1, 1})) / torch::tensor({0.2, 0.5}).view({2, 1, 1});
  CHECK(torch::allclose(torch::from_blob(out.data(), {2, 3, 4}), expected.to(torch::kFloat), 1e-5, 1e-5));
}

TEST_CASE("ImageTransform flip-only gives the identity or the exact mirror", "[data]") {
  auto s = synthetic(1, 5, 6, 1);
  AugmentConfig flip;
  flip.crop_padding = 0;
  flip.horizontal_flip = true;
  ImageTransform t({{0.0}, {1.0}}, flip);
  auto plain = s.images[0].permute({2, 0, 1}).to(torch::kFloat) / 255.0;
  int mirrored = 0, same = 0;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 20; ++i) {
    std::vector<float> out(30);
    t.apply(s.images.data_ptr<uint8_t>(), 5, 6, 1, rng, out.data());
    auto got = torch::from_blob(out.data(), {1, 5, 6});
    if (torch::allclose(got, plain, 1e-5, 1e-5)) ++same;
    else if (torch::allclose(got, plain.flip({2}), 1e-5, 1e-5)) ++mirrored;
  }
  CHECK(same + mirrored == 20);
  CHECK(same > 0);
  CHECK(mirrored > 0);
}

TEST_CASE("ImageTransform erasing zeroes a rectangle; crop shifts by at most the padding", "[data]") {
  ImageSet s;
  s.images = torch::full({1, 8, 8, 1}, 200, torch::kUInt8);
  AugmentConfig erase;
  erase.crop_padding = 0;
  erase.horizontal_flip = false;
  erase.erase_probability = 1.0;
  ImageTransform t({{0.0}, {1.0}}, erase);
  std::vector<float> out(64);
  std::mt19937_64 rng(4);
  t.apply(s.images.data_ptr<uint8_t>(), 8, 8, 1, rng, out.data());
  auto got = torch::from_blob(out.data(), {64});
  const auto zeros = got.eq(0).sum().item<int64_t>();
  CHECK(zeros > 0);
  CHECK(zeros < 64);

  AugmentConfig crop;
  crop.crop_padding = 2;
  crop.horizontal_flip = false;
  ImageTransform c({{0.0}, {1.0}}, crop);
  for (int i = 0; i < 10; ++i) {
    c.apply(s.images.data_ptr<uint8_t>(), 8, 8, 1, rng, out.data());
    auto img = torch::from_blob(out.data(), {8, 8});
    // A shift of at most 2 pixels keeps the centre 4x4 inside the image.
    CHECK(img.slice(0, 2, 6).slice(1, 2, 6).min().item<float>() == Approx(200.0 / 255.0));
  }
}

TEST_CASE("ImageBatchSource: workers give the same batches as the calling thread", "[data]") {
  auto s = synthetic(37, 6, 6, 1);
  AugmentConfig aug;
  aug.erase_probability = 0.5;
  aug.rotate_degrees = 10;
  ImageBatchOptions o;
  o.batch_size = 8;
  o.shuffle = true;
  o.parallel.workers = 0;
  ImageBatchSource sync(s, ImageTransform({{0.5}, {0.3}}, aug), o);
  o.parallel.workers = 3;
  ImageBatchSource par(s, ImageTransform({{0.5}, {0.3}}, aug), o);
  CHECK(sync.batches() == 5);
  auto a = sync.epoch(7, 2), b = par.epoch(7, 2);
  int64_t count = 0, batches = 0;
  std::vector<int64_t> seen_labels;
  while (auto x = a->next()) {
    auto y = b->next();
    REQUIRE(y.has_value());
    CHECK(torch::equal(x->inputs, y->inputs));
    CHECK(torch::equal(x->targets, y->targets));
    count += x->size();
    ++batches;
  }
  CHECK_FALSE(b->next().has_value());
  CHECK(count == 37);
  CHECK(batches == 5);
  // Another epoch has another order.
  auto e1 = sync.epoch(7, 1)->next(), e2 = sync.epoch(7, 2)->next();
  CHECK_FALSE(torch::equal(e1->inputs, e2->inputs));
}

TEST_CASE("ParallelBatchStream rethrows a worker's exception", "[data]") {
  ParallelBatchStream stream(
      5,
      [](int64_t k) -> Batch {
        if (k == 2) throw focus::Error("bad batch 2");
        Batch b;
        b.inputs = torch::full({1}, static_cast<double>(k));
        b.targets = torch::zeros({1}, torch::kLong);
        return b;
      },
      {2, 2});
  CHECK(stream.next()->inputs.item<float>() == 0.0f);
  CHECK(stream.next()->inputs.item<float>() == 1.0f);
  CHECK_THROWS_WITH(stream.next(), "bad batch 2");
}
