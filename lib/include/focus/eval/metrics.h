#pragma once
// Classification metrics computed from predicted class probabilities:
// top-1/top-k accuracy, per-class precision/recall/F1, macro-F1, negative
// log-likelihood, expected calibration error with its reliability bins, and
// the confusion matrix. Torch-free: inputs are plain row-major vectors.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace focus::eval {

/// Precision, recall and F1 of one class (one-vs-rest).
struct ClassMetrics {
  double precision = 0;  // tp / (samples predicted as this class); 0 when none predicted
  double recall = 0;     // tp / support; 0 when support is 0
  double f1 = 0;         // harmonic mean of precision and recall; 0 when both are 0
  int64_t support = 0;   // number of samples whose true label is this class
};

/// One equal-width bin of the reliability diagram, over the max probability.
struct CalibrationBin {
  double lower = 0;       // lower edge of the bin (inclusive)
  double upper = 0;       // upper edge (exclusive, except the last bin which includes 1)
  double confidence = 0;  // mean max-probability of the samples in the bin; 0 when empty
  double accuracy = 0;    // fraction of the samples in the bin predicted correctly; 0 when empty
  int64_t count = 0;      // number of samples in the bin
};

/// Everything compute_metrics() measures on one set of predictions.
struct Metrics {
  int64_t count = 0;                            // number of samples
  double accuracy = 0;                          // top-1 accuracy
  std::vector<std::pair<int, double>> topk;     // (k, accuracy) for each requested k <= num_classes
  std::vector<ClassMetrics> per_class;          // one entry per class, by class index
  double macro_f1 = 0;                          // mean F1 over classes present in labels or predictions
  double nll = 0;                               // mean negative log-likelihood (natural log)
  double ece = 0;                               // expected calibration error over `calibration`
  std::vector<CalibrationBin> calibration;      // all bins, empty ones included, low to high
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted] counts
};

/// What compute_metrics() measures beyond the fixed quantities.
struct MetricsOptions {
  std::vector<int> topk = {1, 3, 5};  // k values for top-k accuracy; k > num_classes is skipped
  int calibration_bins = 15;          // number of equal-width confidence bins for ECE
};

/// Smallest probability used inside the log for NLL, so that p = 0 gives a
/// large finite loss (about 27.6) instead of infinity.
inline constexpr double kNllProbabilityFloor = 1e-12;

/// Computes all metrics.
/// `probs` is row-major [n, num_classes]; each row must be a probability
/// distribution (entries in [0, 1], summing to 1 within 1e-2), `labels` has
/// n entries in [0, num_classes). The prediction is the arg-max of a row,
/// ties going to the lowest class index; top-k uses the same tie rule.
/// Throws focus::Error on size mismatch, label out of range, n == 0,
/// num_classes < 1, rows that are not distributions, k < 1 or bins < 1.
Metrics compute_metrics(const std::vector<float>& probs, const std::vector<int64_t>& labels,
                        int num_classes, const MetricsOptions& options = {});

/// Serialises metrics. `class_names` must be empty (indices are used as
/// names) or have one name per class; throws focus::Error otherwise.
nlohmann::json to_json(const Metrics& m, const std::vector<std::string>& class_names);

/// Reads metrics back from to_json() output. Throws focus::Error naming the
/// key when a field is missing or has the wrong type.
Metrics metrics_from_json(const nlohmann::json& j);

/// Reads the class names stored by to_json(). Throws focus::Error when absent.
std::vector<std::string> class_names_from_json(const nlohmann::json& j);

}  // namespace focus::eval
