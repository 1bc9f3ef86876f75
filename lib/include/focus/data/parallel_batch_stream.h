#pragma once
// A BatchStream whose batches are built by worker threads, ahead of the
// consumer, and handed out in order. Batch k is built by `make(k)`, which must
// be thread-safe and depend only on k, so the result does not depend on
// timing. An exception in a worker is rethrown from next().
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "focus/data/batch_source.h"

namespace focus::data {

struct ParallelOptions {
  int workers = 2;   ///< threads building batches; 0 = build in next()
  int prefetch = 4;  ///< batches built ahead of the consumer at most
};

class ParallelBatchStream : public BatchStream {
 public:
  ParallelBatchStream(int64_t count, std::function<Batch(int64_t)> make, ParallelOptions options = {});
  ~ParallelBatchStream() override;
  ParallelBatchStream(const ParallelBatchStream&) = delete;
  ParallelBatchStream& operator=(const ParallelBatchStream&) = delete;

  std::optional<Batch> next() override;

 private:
  void work();

  int64_t count_;
  std::function<Batch(int64_t)> make_;
  ParallelOptions options_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::map<int64_t, Batch> done_;
  int64_t claimed_ = 0;   // next batch index a worker will build
  int64_t consumed_ = 0;  // next batch index next() returns
  bool stop_ = false;
  std::map<int64_t, std::exception_ptr> errors_;  // failed batches, thrown in order
  std::vector<std::thread> threads_;
};

}  // namespace focus::data
