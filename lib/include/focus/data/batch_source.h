#pragma once
// What the trainer and the evaluators read data from: a source of examples
// that yields, for each epoch, a stream of batches.
#include <cstdint>
#include <memory>
#include <functional>
#include <optional>
#include <vector>

#include "focus/data/batch.h"

namespace focus::data {

class BatchStream {
 public:
  virtual ~BatchStream() = default;
  /// The next batch, or nothing at the end of the epoch.
  virtual std::optional<Batch> next() = 0;
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  /// Number of examples.
  virtual int64_t size() const = 0;
  /// Number of batches per epoch.
  virtual int64_t batches() const = 0;
  /// The batches of one epoch. The order and any randomness depend only on
  /// (seed, epoch), so a resumed run sees the same data as an uninterrupted one.
  virtual std::unique_ptr<BatchStream> epoch(uint64_t seed, int64_t epoch) const = 0;
};

/// A BatchStream over a precomputed plan (lists of example indices); each
/// batch is built on demand by make(k, indices) for the k-th list.
class PlannedStream : public BatchStream {
 public:
  using Make = std::function<Batch(int64_t, const std::vector<int64_t>&)>;
  PlannedStream(std::vector<std::vector<int64_t>> plan, Make make) : plan_(std::move(plan)), make_(std::move(make)) {}
  std::optional<Batch> next() override {
    if (next_ >= plan_.size()) return std::nullopt;
    const size_t k = next_++;
    return make_(static_cast<int64_t>(k), plan_[k]);
  }

 private:
  std::vector<std::vector<int64_t>> plan_;
  Make make_;
  size_t next_ = 0;
};

/// One process's share of the training data in data-parallel training. Every
/// rank plans the same batches of count x B examples (same seed, same order)
/// and keeps its own rows of each: the ranks never overlap, and together they
/// see exactly what one process with batches of count x B sees.
struct Shard {
  int64_t rank = 0;
  int64_t count = 1;
};
/// The rows [first, second) of a batch of n rows that `shard` keeps (contiguous, balanced).
std::pair<int64_t, int64_t> shard_rows(int64_t n, const Shard& shard);
/// The part of `indices` that `shard` keeps.
std::vector<int64_t> shard_of(const std::vector<int64_t>& indices, const Shard& shard);

/// Mixes numbers into one well-spread 64-bit seed (splitmix64 steps).
uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c = 0);

}  // namespace focus::data
