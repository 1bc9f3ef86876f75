#pragma once
// Dynamic batching for a served model: requests wait in a bounded queue; one
// worker takes the oldest, gathers more until the batch holds max_batch_size
// examples or the oldest has waited max_delay, runs them as one forward call
// and hands each request its rows of the logits. A full queue refuses new
// requests (the server answers 503) instead of growing without bound.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <torch/script.h>

#include "focus/models/factory.h"
#include "focus/util/error.h"

namespace focus::deploy {

struct BatchingOptions {
  int64_t max_batch_size = 32;  ///< examples per forward call (1 = no batching)
  int64_t max_delay_us = 2000;  ///< longest wait of the oldest request for others to join
  int64_t max_queue = 256;      ///< requests waiting; more are refused
};

/// Thrown by submit() when the queue is full.
class QueueFull : public Error {
 public:
  using Error::Error;
};

/// Concatenates several requests' forward() arguments along the batch
/// dimension. Token ids and masks are padded to the longest ([PAD] = 0, mask
/// false; the models ignore padding); image + text requests get their
/// image_index shifted to the merged images (and arange(Q) when absent).
/// `rows` receives each request's number of logit rows.
std::vector<torch::jit::IValue> merge_inputs(const std::vector<std::vector<torch::jit::IValue>>& requests,
                                             models::InputKind kind, std::vector<int64_t>& rows);

/// The number of logit rows forward() returns for these arguments.
int64_t rows_of(const std::vector<torch::jit::IValue>& inputs, models::InputKind kind);

class DynamicBatcher {
 public:
  using Run = std::function<torch::Tensor(const std::vector<torch::jit::IValue>&)>;
  /// Called after each forward call with the number of examples it held.
  using OnBatch = std::function<void(int64_t examples)>;

  DynamicBatcher(BatchingOptions options, models::InputKind kind, Run run, OnBatch on_batch = {});
  /// Finishes every queued request, then stops the worker.
  ~DynamicBatcher();
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  /// Queues one request; the future holds its logits [rows, K] or the error
  /// of its forward call. Throws QueueFull when max_queue requests wait, and
  /// focus::Error after stop().
  std::future<torch::Tensor> submit(std::vector<torch::jit::IValue> inputs);
  /// Requests waiting (not yet in a forward call).
  int64_t queue_depth() const;
  /// Refuses new requests, finishes the queued ones and joins the worker.
  void stop();

 private:
  struct Pending {
    std::vector<torch::jit::IValue> inputs;
    int64_t rows = 0;
    std::promise<torch::Tensor> result;
    std::chrono::steady_clock::time_point arrived;
  };
  void work();
  void run_batch(std::vector<Pending>& batch);

  BatchingOptions options_;
  models::InputKind kind_;
  Run run_;
  OnBatch on_batch_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace focus::deploy
