#pragma once
// focus-serve's Prometheus metrics, rendered in the text exposition format:
//   focus_requests_total{model, code}                 counter
//   focus_request_duration_seconds{model}             histogram
//   focus_batch_size{model}                           histogram (examples per forward call)
//   focus_queue_depth{model}                          gauge (sampled at each scrape)
// Thread-safe.
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace focus::deploy {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  /// Appends `name`_bucket/_sum/_count lines with the given label set ("" or `model="x"`).
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  ///< per bucket (not cumulative); the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class ServeMetrics {
 public:
  /// `models` are pre-registered so that every series exists from the start.
  explicit ServeMetrics(const std::vector<std::string>& models);
  /// One finished request (model "" for requests not aimed at a model).
  void request(const std::string& model, int code, double seconds);
  void batch(const std::string& model, int64_t examples);
  /// The exposition text; `queue_depth` is asked for each model's current depth.
  std::string render(const std::function<int64_t(const std::string&)>& queue_depth) const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> models_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> durations_;
  std::map<std::string, Histogram> batches_;
};

/// A Prometheus label value with \, " and newline escaped.
std::string prometheus_label(const std::string& value);

}  // namespace focus::deploy
