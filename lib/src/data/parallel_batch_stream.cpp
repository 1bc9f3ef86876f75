#include "focus/data/parallel_batch_stream.h"


namespace focus::data {

std::pair<int64_t, int64_t> shard_rows(int64_t n, const Shard& shard) {
  return {n * shard.rank / shard.count, n * (shard.rank + 1) / shard.count};
}

std::vector<int64_t> shard_of(const std::vector<int64_t>& indices, const Shard& shard) {
  const auto [first, last] = shard_rows(static_cast<int64_t>(indices.size()), shard);
  return {indices.begin() + first, indices.begin() + last};
}

uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) {
  auto step = [](uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  };
  return step(step(step(a) ^ b) ^ c);
}

ParallelBatchStream::ParallelBatchStream(int64_t count, std::function<Batch(int64_t)> make, ParallelOptions options)
    : count_(count), make_(std::move(make)), options_(options) {
  if (options_.prefetch < 1) options_.prefetch = 1;
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { work(); });
}

ParallelBatchStream::~ParallelBatchStream() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  space_.notify_all();
  ready_.notify_all();
  for (auto& t : threads_) t.join();
}

void ParallelBatchStream::work() {
  while (true) {
    int64_t k;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_.wait(lock, [&] {
        return stop_ || !errors_.empty() || claimed_ >= count_ || claimed_ < consumed_ + options_.prefetch;
      });
      if (stop_ || !errors_.empty() || claimed_ >= count_) return;
      k = claimed_++;
    }
    try {
      Batch b = make_(k);
      std::lock_guard<std::mutex> lock(mutex_);
      done_.emplace(k, std::move(b));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      errors_.emplace(k, std::current_exception());
    }
    ready_.notify_all();
  }
}

std::optional<Batch> ParallelBatchStream::next() {
  if (consumed_ >= count_) return std::nullopt;
  if (threads_.empty()) return make_(consumed_++);
  std::unique_lock<std::mutex> lock(mutex_);
  ready_.wait(lock, [&] { return errors_.count(consumed_) || done_.count(consumed_); });
  if (auto it = errors_.find(consumed_); it != errors_.end()) std::rethrow_exception(it->second);
  auto node = done_.extract(consumed_);
  ++consumed_;
  lock.unlock();
  space_.notify_all();
  return std::move(node.mapped());
}

}  // namespace focus::data
