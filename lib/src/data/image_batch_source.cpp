#include "focus/data/image_batch_source.h"

#include <algorithm>
#include <numeric>

#include "focus/util/error.h"

namespace focus::data {

ImageBatchSource::ImageBatchSource(ImageSet set, ImageTransform transform, ImageBatchOptions options)
    : set_(std::move(set)), transform_(std::move(transform)), options_(options) {
  if (options_.batch_size < 1) throw Error("batch size must be at least 1, got " + std::to_string(options_.batch_size));
}

int64_t ImageBatchSource::batches() const {
  const int64_t n = set_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::unique_ptr<BatchStream> ImageBatchSource::epoch(uint64_t seed, int64_t epoch) const {
  auto order = std::make_shared<std::vector<int64_t>>(static_cast<size_t>(set_.size()));
  std::iota(order->begin(), order->end(), 0);
  if (options_.shuffle) {
    std::mt19937_64 rng(mix_seed(seed, static_cast<uint64_t>(epoch), 1));
    std::shuffle(order->begin(), order->end(), rng);
  }
  const int64_t h = set_.height(), w = set_.width(), c = set_.channels();
  auto make = [this, order, seed, epoch, h, w, c](int64_t k) {
    const int64_t global_begin = k * options_.batch_size;
    const int64_t global_end = std::min<int64_t>(global_begin + options_.batch_size, static_cast<int64_t>(order->size()));
    const auto [first, last] = shard_rows(global_end - global_begin, options_.shard);
    const int64_t begin = global_begin + first, end = global_begin + last;
    const int64_t n = end - begin;
    Batch batch;
    batch.inputs = torch::empty({n, c, h, w}, torch::kFloat);
    batch.targets = torch::empty({n}, torch::kLong);
    float* dst = batch.inputs.data_ptr<float>();
    int64_t* lab = batch.targets.data_ptr<int64_t>();
    const uint8_t* src = set_.images.data_ptr<uint8_t>();
    const int64_t* labels = set_.labels.data_ptr<int64_t>();
    std::mt19937_64 rng(mix_seed(seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(k) + 2));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t idx = (*order)[static_cast<size_t>(begin + i)];
      transform_.apply(src + idx * h * w * c, h, w, c, rng, dst + i * c * h * w);
      lab[i] = labels[idx];
    }
    return batch;
  };
  return std::make_unique<ParallelBatchStream>(batches(), make, options_.parallel);
}

}  // namespace focus::data
