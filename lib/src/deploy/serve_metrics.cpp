#include "focus/deploy/serve_metrics.h"

#include <cstdio>
#include <cstdlib>

namespace focus::deploy {

namespace {
const std::vector<double> kDurationBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256};

/// The shortest of %.15g / %.17g that reads back as the same double.
std::string number(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.15g", v);
  if (std::strtod(buffer, nullptr) != v) std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}
}  // namespace

std::string prometheus_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{" + labels + sep + "le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(count_) + "\n";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + number(sum_) + "\n";
  out += name + "_count" + braces + " " + std::to_string(count_) + "\n";
}

ServeMetrics::ServeMetrics(const std::vector<std::string>& models) : models_(models) {
  for (const auto& m : models) {
    durations_.emplace(m, Histogram(kDurationBounds));
    batches_.emplace(m, Histogram(kBatchBounds));
  }
}

void ServeMetrics::request(const std::string& model, int code, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{model, code}];
  auto it = durations_.find(model);
  if (it == durations_.end()) it = durations_.emplace(model, Histogram(kDurationBounds)).first;
  it->second.observe(seconds);
}

void ServeMetrics::batch(const std::string& model, int64_t examples) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = batches_.find(model);
  if (it == batches_.end()) it = batches_.emplace(model, Histogram(kBatchBounds)).first;
  it->second.observe(static_cast<double>(examples));
}

std::string ServeMetrics::render(const std::function<int64_t(const std::string&)>& queue_depth) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto label = [](const std::string& model) { return "model=\"" + prometheus_label(model) + "\""; };
  std::string out;
  out += "# HELP focus_requests_total Requests answered, by model and HTTP status code.\n";
  out += "# TYPE focus_requests_total counter\n";
  for (const auto& [key, count] : requests_)
    out += "focus_requests_total{" + label(key.first) + ",code=\"" + std::to_string(key.second) + "\"} " +
           std::to_string(count) + "\n";
  out += "# HELP focus_request_duration_seconds Time from receiving a request to answering it.\n";
  out += "# TYPE focus_request_duration_seconds histogram\n";
  for (const auto& [model, h] : durations_) h.render(out, "focus_request_duration_seconds", label(model));
  out += "# HELP focus_batch_size Examples per forward call (dynamic batching).\n";
  out += "# TYPE focus_batch_size histogram\n";
  for (const auto& [model, h] : batches_) h.render(out, "focus_batch_size", label(model));
  out += "# HELP focus_queue_depth Requests waiting for a forward call.\n";
  out += "# TYPE focus_queue_depth gauge\n";
  for (const auto& model : models_) out += "focus_queue_depth{" + label(model) + "} " + std::to_string(queue_depth(model)) + "\n";
  return out;
}

}  // namespace focus::deploy
