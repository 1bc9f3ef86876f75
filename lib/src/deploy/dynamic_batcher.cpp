#include "focus/deploy/dynamic_batcher.h"

#include <algorithm>

namespace focus::deploy {

namespace {

/// `t` padded with zeros (false) at the end of every dimension after the first, to `shape`.
torch::Tensor pad_to(const torch::Tensor& t, const std::vector<int64_t>& shape) {
  std::vector<int64_t> pad;
  bool needed = false;
  for (int64_t d = t.dim() - 1; d >= 1; --d) {
    const int64_t extra = shape[static_cast<size_t>(d)] - t.size(d);
    pad.push_back(0);
    pad.push_back(extra);
    needed = needed || extra > 0;
  }
  if (!needed) return t;
  if (t.scalar_type() == torch::kBool) return torch::constant_pad_nd(t.to(torch::kUInt8), pad, 0).to(torch::kBool);
  return torch::constant_pad_nd(t, pad, 0);
}

/// Input `position` of every request, padded to the largest trailing sizes and concatenated.
torch::Tensor cat_padded(const std::vector<std::vector<torch::jit::IValue>>& requests, size_t position) {
  std::vector<torch::Tensor> parts;
  std::vector<int64_t> shape;
  for (const auto& r : requests) {
    auto t = r.at(position).toTensor();
    if (shape.empty()) shape = t.sizes().vec();
    if (t.dim() != static_cast<int64_t>(shape.size()))
      throw Error("batching: input " + std::to_string(position) + " has " + std::to_string(t.dim()) +
                  " dimensions in one request and " + std::to_string(shape.size()) + " in another");
    for (int64_t d = 1; d < t.dim(); ++d) shape[static_cast<size_t>(d)] = std::max(shape[static_cast<size_t>(d)], t.size(d));
    parts.push_back(t);
  }
  for (auto& p : parts) p = pad_to(p, shape);
  return torch::cat(parts, 0);
}

}  // namespace

int64_t rows_of(const std::vector<torch::jit::IValue>& inputs, models::InputKind kind) {
  if (inputs.empty() || !inputs[0].isTensor()) throw Error("batching: expected tensor inputs");
  const size_t position = kind == models::InputKind::image_text ? 1 : 0;  // image + text: one row per question
  return inputs.at(position).toTensor().size(0);
}

std::vector<torch::jit::IValue> merge_inputs(const std::vector<std::vector<torch::jit::IValue>>& requests,
                                             models::InputKind kind, std::vector<int64_t>& rows) {
  rows.clear();
  for (const auto& r : requests) rows.push_back(rows_of(r, kind));
  if (requests.size() == 1) return requests[0];
  const size_t arity = requests[0].size();
  for (const auto& r : requests)
    if (r.size() != arity && kind != models::InputKind::image_text)
      throw Error("batching: requests with different numbers of inputs");
  std::vector<torch::jit::IValue> merged;
  const size_t tensors = kind == models::InputKind::image_text ? 3 : arity;
  for (size_t i = 0; i < tensors; ++i) merged.emplace_back(cat_padded(requests, i));
  if (kind == models::InputKind::image_text) {
    std::vector<torch::Tensor> index;
    int64_t offset = 0;
    for (const auto& r : requests) {
      const auto images = r[0].toTensor().size(0);
      const auto questions = r[1].toTensor().size(0);
      const bool given = r.size() > 3 && r[3].isTensor();
      auto own = given ? r[3].toTensor() : torch::arange(questions, torch::TensorOptions().dtype(torch::kLong).device(r[1].toTensor().device()));
      index.push_back(own + offset);
      offset += images;
    }
    merged.emplace_back(torch::cat(index, 0));
  }
  return merged;
}

DynamicBatcher::DynamicBatcher(BatchingOptions options, models::InputKind kind, Run run, OnBatch on_batch)
    : options_(options), kind_(kind), run_(std::move(run)), on_batch_(std::move(on_batch)) {
  if (options_.max_batch_size < 1 || options_.max_delay_us < 0 || options_.max_queue < 1)
    throw Error("batching: need max_batch_size >= 1, max_delay >= 0 and max_queue >= 1");
  worker_ = std::thread([this] { work(); });
}

DynamicBatcher::~DynamicBatcher() { stop(); }

std::future<torch::Tensor> DynamicBatcher::submit(std::vector<torch::jit::IValue> inputs) {
  Pending p;
  p.rows = rows_of(inputs, kind_);
  p.inputs = std::move(inputs);
  p.arrived = std::chrono::steady_clock::now();
  auto future = p.result.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) throw Error("the model is shutting down");
    if (static_cast<int64_t>(queue_.size()) >= options_.max_queue)
      throw QueueFull("the request queue is full (" + std::to_string(options_.max_queue) + " waiting); retry later");
    queue_.push_back(std::move(p));
  }
  ready_.notify_one();
  return future;
}

int64_t DynamicBatcher::queue_depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(queue_.size());
}

void DynamicBatcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void DynamicBatcher::work() {
  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything is done
      const auto deadline = queue_.front().arrived + std::chrono::microseconds(options_.max_delay_us);
      // Wait for company until the batch is full or the oldest request's deadline.
      auto queued_rows = [this] {
        int64_t n = 0;
        for (const auto& p : queue_) n += p.rows;
        return n;
      };
      while (!stopping_ && queued_rows() < options_.max_batch_size &&
             ready_.wait_until(lock, deadline) != std::cv_status::timeout) {
      }
      int64_t rows = 0;
      while (!queue_.empty() && (batch.empty() || rows + queue_.front().rows <= options_.max_batch_size)) {
        rows += queue_.front().rows;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    run_batch(batch);
  }
}

void DynamicBatcher::run_batch(std::vector<Pending>& batch) {
  std::vector<std::vector<torch::jit::IValue>> requests;
  for (auto& p : batch) requests.push_back(std::move(p.inputs));
  try {
    std::vector<int64_t> rows;
    auto merged = merge_inputs(requests, kind_, rows);
    auto logits = run_(merged);
    int64_t total = 0;
    for (auto r : rows) total += r;
    if (logits.dim() < 1 || logits.size(0) != total)
      throw Error("the model returned " + std::to_string(logits.dim() ? logits.size(0) : 0) + " rows for " +
                  std::to_string(total) + " examples");
    std::vector<torch::Tensor> parts;  // every slice first: nothing below may throw half-way
    int64_t start = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      parts.push_back(logits.narrow(0, start, rows[i]).clone());
      start += rows[i];
    }
    if (on_batch_) on_batch_(total);
    for (size_t i = 0; i < batch.size(); ++i) batch[i].result.set_value(std::move(parts[i]));
  } catch (...) {
    if (batch.size() == 1) {
      batch[0].result.set_exception(std::current_exception());
      return;
    }
    // One bad request must not fail the others: run each alone.
    for (size_t i = 0; i < batch.size(); ++i) {
      try {
        auto logits = run_(requests[i]);
        if (on_batch_) on_batch_(rows_of(requests[i], kind_));
        batch[i].result.set_value(logits);
      } catch (...) {
        batch[i].result.set_exception(std::current_exception());
      }
    }
  }
}

}  // namespace focus::deploy
