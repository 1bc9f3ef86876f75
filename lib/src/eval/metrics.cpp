#include "focus/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include "focus/util/error.h"

namespace focus::eval {
namespace {

// How far a row of probabilities may sum from 1 (float rounding, averaged ensembles).
constexpr double kRowSumTolerance = 1e-2;
// How far above 1 a single probability may be (float rounding).
constexpr double kEntryTolerance = 1e-4;

void check_inputs(const std::vector<float>& probs, const std::vector<int64_t>& labels,
                  int num_classes, const MetricsOptions& options) {
  if (num_classes < 1) {
    throw Error("compute_metrics: expected num_classes >= 1, found " + std::to_string(num_classes));
  }
  if (labels.empty()) {
    throw Error("compute_metrics: expected at least one sample, found 0 labels");
  }
  const size_t expected = labels.size() * static_cast<size_t>(num_classes);
  if (probs.size() != expected) {
    throw Error("compute_metrics: expected probs of size n * num_classes = " +
                std::to_string(labels.size()) + " * " + std::to_string(num_classes) + " = " +
                std::to_string(expected) + ", found " + std::to_string(probs.size()));
  }
  if (options.calibration_bins < 1) {
    throw Error("compute_metrics: expected calibration_bins >= 1, found " +
                std::to_string(options.calibration_bins));
  }
  for (int k : options.topk) {
    if (k < 1) throw Error("compute_metrics: expected top-k values >= 1, found " + std::to_string(k));
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes) {
      throw Error("compute_metrics: expected label in [0, " + std::to_string(num_classes) +
                  ") at sample " + std::to_string(i) + ", found " + std::to_string(labels[i]));
    }
    double sum = 0;
    for (int c = 0; c < num_classes; ++c) {
      const double p = probs[i * static_cast<size_t>(num_classes) + static_cast<size_t>(c)];
      if (!std::isfinite(p) || p < 0 || p > 1 + kEntryTolerance) {
        throw Error("compute_metrics: expected probabilities in [0, 1] at sample " +
                    std::to_string(i) + ", class " + std::to_string(c) + ", found " +
                    std::to_string(p) + " (pass softmax outputs, not logits)");
      }
      sum += p;
    }
    if (std::abs(sum - 1.0) > kRowSumTolerance) {
      throw Error("compute_metrics: expected the probabilities of sample " + std::to_string(i) +
                  " to sum to 1, found " + std::to_string(sum) +
                  " (pass softmax outputs, not logits)");
    }
  }
}

// Position of the true label when classes are sorted by decreasing
// probability, ties broken by lower class index first (0 = arg-max).
int label_rank(const float* row, int num_classes, int label) {
  const float p = row[label];
  int rank = 0;
  for (int c = 0; c < num_classes; ++c) {
    if (row[c] > p || (row[c] == p && c < label)) ++rank;
  }
  return rank;
}

// Arg-max with ties going to the lowest index.
int argmax(const float* row, int num_classes) {
  int best = 0;
  for (int c = 1; c < num_classes; ++c) {
    if (row[c] > row[best]) best = c;
  }
  return best;
}

void fill_per_class(Metrics& m, int num_classes) {
  m.per_class.assign(static_cast<size_t>(num_classes), ClassMetrics{});
  double f1_sum = 0;
  int present = 0;
  for (int c = 0; c < num_classes; ++c) {
    int64_t support = 0;
    int64_t predicted = 0;
    for (int other = 0; other < num_classes; ++other) {
      support += m.confusion[c][other];
      predicted += m.confusion[other][c];
    }
    const int64_t tp = m.confusion[c][c];
    ClassMetrics& cm = m.per_class[c];
    cm.support = support;
    cm.precision = predicted > 0 ? static_cast<double>(tp) / static_cast<double>(predicted) : 0.0;
    cm.recall = support > 0 ? static_cast<double>(tp) / static_cast<double>(support) : 0.0;
    const double denom = cm.precision + cm.recall;
    cm.f1 = denom > 0 ? 2.0 * cm.precision * cm.recall / denom : 0.0;
    if (support > 0 || predicted > 0) {
      f1_sum += cm.f1;
      ++present;
    }
  }
  m.macro_f1 = present > 0 ? f1_sum / present : 0.0;
}

}  // namespace

Metrics compute_metrics(const std::vector<float>& probs, const std::vector<int64_t>& labels,
                        int num_classes, const MetricsOptions& options) {
  check_inputs(probs, labels, num_classes, options);
  const size_t n = labels.size();
  const int bins = options.calibration_bins;

  Metrics m;
  m.count = static_cast<int64_t>(n);
  m.confusion.assign(static_cast<size_t>(num_classes),
                     std::vector<int64_t>(static_cast<size_t>(num_classes), 0));
  std::vector<int64_t> topk_hits(options.topk.size(), 0);
  std::vector<double> bin_confidence(static_cast<size_t>(bins), 0.0);
  std::vector<int64_t> bin_correct(static_cast<size_t>(bins), 0);
  std::vector<int64_t> bin_count(static_cast<size_t>(bins), 0);
  int64_t correct = 0;
  double nll_sum = 0;

  for (size_t i = 0; i < n; ++i) {
    const float* row = probs.data() + i * static_cast<size_t>(num_classes);
    const int label = static_cast<int>(labels[i]);
    const int predicted = argmax(row, num_classes);
    const bool hit = predicted == label;
    ++m.confusion[label][predicted];
    if (hit) ++correct;

    const int rank = label_rank(row, num_classes, label);
    for (size_t t = 0; t < options.topk.size(); ++t) {
      if (rank < options.topk[t]) ++topk_hits[t];
    }

    nll_sum -= std::log(std::max(static_cast<double>(row[label]), kNllProbabilityFloor));

    const double confidence = std::min(1.0, static_cast<double>(row[predicted]));
    const int bin = std::clamp(static_cast<int>(std::floor(confidence * bins)), 0, bins - 1);
    bin_confidence[bin] += confidence;
    bin_count[bin] += 1;
    if (hit) bin_correct[bin] += 1;
  }

  const double total = static_cast<double>(n);
  m.accuracy = static_cast<double>(correct) / total;
  for (size_t t = 0; t < options.topk.size(); ++t) {
    if (options.topk[t] > num_classes) continue;
    m.topk.emplace_back(options.topk[t], static_cast<double>(topk_hits[t]) / total);
  }
  m.nll = nll_sum / total;

  m.calibration.resize(static_cast<size_t>(bins));
  for (int b = 0; b < bins; ++b) {
    CalibrationBin& cb = m.calibration[b];
    cb.lower = static_cast<double>(b) / bins;
    cb.upper = static_cast<double>(b + 1) / bins;
    cb.count = bin_count[b];
    if (cb.count == 0) continue;
    cb.confidence = bin_confidence[b] / static_cast<double>(cb.count);
    cb.accuracy = static_cast<double>(bin_correct[b]) / static_cast<double>(cb.count);
    m.ece += static_cast<double>(cb.count) / total * std::abs(cb.accuracy - cb.confidence);
  }

  fill_per_class(m, num_classes);
  return m;
}

// ---- JSON -----------------------------------------------------------------

namespace {

const nlohmann::json& field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) {
    throw Error(std::string("metrics JSON: expected an object, found ") + j.type_name());
  }
  const auto it = j.find(key);
  if (it == j.end()) throw Error(std::string("metrics JSON: expected key '") + key + "', not found");
  return *it;
}

const nlohmann::json& array_field(const nlohmann::json& j, const char* key) {
  const nlohmann::json& value = field(j, key);
  if (!value.is_array()) {
    throw Error(std::string("metrics JSON: expected key '") + key + "' to be an array, found " +
                value.type_name());
  }
  return value;
}

template <typename T>
T get_as(const nlohmann::json& j, const char* key) {
  const nlohmann::json& value = field(j, key);
  try {
    return value.get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("metrics JSON: key '") + key + "' has the wrong type (found " +
                value.type_name() + "): " + e.what());
  }
}

}  // namespace

nlohmann::json to_json(const Metrics& m, const std::vector<std::string>& class_names) {
  if (!class_names.empty() && class_names.size() != m.per_class.size()) {
    throw Error("to_json(Metrics): expected " + std::to_string(m.per_class.size()) +
                " class names (or none), found " + std::to_string(class_names.size()));
  }
  nlohmann::json j;
  j["count"] = m.count;
  j["accuracy"] = m.accuracy;
  j["macro_f1"] = m.macro_f1;
  j["nll"] = m.nll;
  j["ece"] = m.ece;
  nlohmann::json topk = nlohmann::json::array();
  for (const auto& [k, accuracy] : m.topk) topk.push_back({{"k", k}, {"accuracy", accuracy}});
  j["topk"] = std::move(topk);
  nlohmann::json names = nlohmann::json::array();
  nlohmann::json per_class = nlohmann::json::array();
  for (size_t c = 0; c < m.per_class.size(); ++c) {
    const std::string name = class_names.empty() ? std::to_string(c) : class_names[c];
    const ClassMetrics& cm = m.per_class[c];
    names.push_back(name);
    per_class.push_back({{"name", name},
                         {"precision", cm.precision},
                         {"recall", cm.recall},
                         {"f1", cm.f1},
                         {"support", cm.support}});
  }
  j["class_names"] = std::move(names);
  j["per_class"] = std::move(per_class);
  nlohmann::json calibration = nlohmann::json::array();
  for (const CalibrationBin& b : m.calibration) {
    calibration.push_back({{"lower", b.lower},
                           {"upper", b.upper},
                           {"confidence", b.confidence},
                           {"accuracy", b.accuracy},
                           {"count", b.count}});
  }
  j["calibration"] = std::move(calibration);
  j["confusion"] = m.confusion;
  return j;
}

Metrics metrics_from_json(const nlohmann::json& j) {
  Metrics m;
  m.count = get_as<int64_t>(j, "count");
  m.accuracy = get_as<double>(j, "accuracy");
  m.macro_f1 = get_as<double>(j, "macro_f1");
  m.nll = get_as<double>(j, "nll");
  m.ece = get_as<double>(j, "ece");
  for (const nlohmann::json& t : array_field(j, "topk")) {
    m.topk.emplace_back(get_as<int>(t, "k"), get_as<double>(t, "accuracy"));
  }
  for (const nlohmann::json& c : array_field(j, "per_class")) {
    ClassMetrics cm;
    cm.precision = get_as<double>(c, "precision");
    cm.recall = get_as<double>(c, "recall");
    cm.f1 = get_as<double>(c, "f1");
    cm.support = get_as<int64_t>(c, "support");
    m.per_class.push_back(cm);
  }
  for (const nlohmann::json& b : array_field(j, "calibration")) {
    CalibrationBin cb;
    cb.lower = get_as<double>(b, "lower");
    cb.upper = get_as<double>(b, "upper");
    cb.confidence = get_as<double>(b, "confidence");
    cb.accuracy = get_as<double>(b, "accuracy");
    cb.count = get_as<int64_t>(b, "count");
    m.calibration.push_back(cb);
  }
  m.confusion = get_as<std::vector<std::vector<int64_t>>>(j, "confusion");
  const size_t classes = m.per_class.size();
  bool square = m.confusion.size() == classes;
  for (const auto& row : m.confusion) square = square && row.size() == classes;
  if (!square) {
    throw Error("metrics JSON: expected 'confusion' to be " + std::to_string(classes) + " x " +
                std::to_string(classes) + " (one row and column per class), found " +
                std::to_string(m.confusion.size()) + " rows");
  }
  return m;
}

std::vector<std::string> class_names_from_json(const nlohmann::json& j) {
  return get_as<std::vector<std::string>>(j, "class_names");
}

}  // namespace focus::eval
