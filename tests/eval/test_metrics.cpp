// Metrics against values computed by hand.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "focus/eval/metrics.h"
#include "focus/util/error.h"

using focus::eval::compute_metrics;
using focus::eval::Metrics;
using focus::eval::MetricsOptions;

namespace {

// Six samples, three classes. Predictions (arg-max) and the true label's rank:
//   #  label  probs            pred  rank  max-prob
//   0  0      .70 .20 .10      0     0     .7
//   1  0      .20 .50 .30      1     2     .5
//   2  1      .10 .80 .10      1     0     .8
//   3  1      .60 .30 .10      0     1     .6
//   4  2      .05 .05 .90      2     0     .9
//   5  2      .30 .40 .30      1     2     .4   (tie: class 0 ranks before class 2)
const std::vector<float> kProbs = {0.70f, 0.20f, 0.10f, 0.20f, 0.50f, 0.30f,
                                   0.10f, 0.80f, 0.10f, 0.60f, 0.30f, 0.10f,
                                   0.05f, 0.05f, 0.90f, 0.30f, 0.40f, 0.30f};
const std::vector<int64_t> kLabels = {0, 0, 1, 1, 2, 2};

Metrics three_class(std::vector<int> topk = {1, 2, 3, 5}, int bins = 3) {
  MetricsOptions options;
  options.topk = std::move(topk);
  options.calibration_bins = bins;
  return compute_metrics(kProbs, kLabels, 3, options);
}

}  // namespace

TEST_CASE("metrics: confusion matrix and accuracy", "[eval][metrics]") {
  const Metrics m = three_class();
  CHECK(m.count == 6);
  const std::vector<std::vector<int64_t>> expected = {{1, 1, 0}, {1, 1, 0}, {0, 1, 1}};
  CHECK(m.confusion == expected);
  CHECK(m.accuracy == Approx(0.5));
}

TEST_CASE("metrics: top-k with ties and k beyond the class count", "[eval][metrics]") {
  const Metrics m = three_class();
  REQUIRE(m.topk.size() == 3);  // k = 5 > 3 classes is skipped
  CHECK(m.topk[0].first == 1);
  CHECK(m.topk[0].second == Approx(3.0 / 6.0));
  CHECK(m.topk[1].first == 2);
  CHECK(m.topk[1].second == Approx(4.0 / 6.0));
  CHECK(m.topk[2].first == 3);
  CHECK(m.topk[2].second == Approx(1.0));
}

TEST_CASE("metrics: per-class precision, recall, F1 and macro-F1", "[eval][metrics]") {
  const Metrics m = three_class();
  REQUIRE(m.per_class.size() == 3);
  // Class 0: tp 1, predicted 2, support 2.
  CHECK(m.per_class[0].precision == Approx(0.5));
  CHECK(m.per_class[0].recall == Approx(0.5));
  CHECK(m.per_class[0].f1 == Approx(0.5));
  CHECK(m.per_class[0].support == 2);
  // Class 1: tp 1, predicted 3, support 2 -> F1 = 2 * (1/3 * 1/2) / (1/3 + 1/2) = 0.4.
  CHECK(m.per_class[1].precision == Approx(1.0 / 3.0));
  CHECK(m.per_class[1].recall == Approx(0.5));
  CHECK(m.per_class[1].f1 == Approx(0.4));
  // Class 2: tp 1, predicted 1, support 2 -> F1 = 2/3.
  CHECK(m.per_class[2].precision == Approx(1.0));
  CHECK(m.per_class[2].recall == Approx(0.5));
  CHECK(m.per_class[2].f1 == Approx(2.0 / 3.0));
  CHECK(m.macro_f1 == Approx(47.0 / 90.0));  // (1/2 + 2/5 + 2/3) / 3
}

TEST_CASE("metrics: negative log-likelihood", "[eval][metrics]") {
  const Metrics m = three_class();
  const double expected =
      -(std::log(0.7) + std::log(0.2) + std::log(0.8) + 2 * std::log(0.3) + std::log(0.9)) / 6.0;
  CHECK(m.nll == Approx(expected).epsilon(1e-6));
  CHECK(m.nll == Approx(0.783761).epsilon(1e-5));
}

TEST_CASE("metrics: calibration bins and ECE", "[eval][metrics]") {
  // Bins [0,1/3), [1/3,2/3), [2/3,1]: the wrong predictions (.5 .6 .4) share the
  // middle bin, the right ones (.7 .8 .9) the top bin.
  // ECE = 3/6 * |0 - 0.5| + 3/6 * |1 - 0.8| = 0.35.
  const Metrics m = three_class();
  REQUIRE(m.calibration.size() == 3);
  CHECK(m.calibration[0].count == 0);
  CHECK(m.calibration[1].count == 3);
  CHECK(m.calibration[1].lower == Approx(1.0 / 3.0));
  CHECK(m.calibration[1].upper == Approx(2.0 / 3.0));
  CHECK(m.calibration[1].confidence == Approx(0.5));
  CHECK(m.calibration[1].accuracy == Approx(0.0));
  CHECK(m.calibration[2].count == 3);
  CHECK(m.calibration[2].confidence == Approx(0.8));
  CHECK(m.calibration[2].accuracy == Approx(1.0));
  CHECK(m.ece == Approx(0.35));
}

TEST_CASE("metrics: confidence 1 lands in the last bin", "[eval][metrics]") {
  MetricsOptions options;
  options.topk = {1};
  options.calibration_bins = 10;
  // Sample 0 is right with confidence 1, sample 1 wrong with confidence 1.
  const Metrics m = compute_metrics({1.0f, 0.0f, 0.0f, 1.0f}, {0, 0}, 2, options);
  CHECK(m.calibration.back().count == 2);
  CHECK(m.calibration.back().accuracy == Approx(0.5));
  CHECK(m.ece == Approx(0.5));
  CHECK(std::isfinite(m.nll));
  CHECK(m.nll == Approx(-std::log(focus::eval::kNllProbabilityFloor) / 2));
}

TEST_CASE("metrics: macro-F1 ignores classes absent from labels and predictions",
          "[eval][metrics]") {
  MetricsOptions options;
  options.topk = {1};
  // Class 2 never occurs: two perfect predictions over classes 0 and 1.
  const Metrics m =
      compute_metrics({0.9f, 0.05f, 0.05f, 0.1f, 0.8f, 0.1f}, {0, 1}, 3, options);
  CHECK(m.per_class[2].support == 0);
  CHECK(m.per_class[2].f1 == 0);
  CHECK(m.macro_f1 == Approx(1.0));
}

TEST_CASE("metrics: bad input throws focus::Error", "[eval][metrics]") {
  SECTION("label out of range") {
    REQUIRE_THROWS_AS(compute_metrics(kProbs, {0, 0, 1, 1, 2, 3}, 3), focus::Error);
    REQUIRE_THROWS_AS(compute_metrics(kProbs, {0, 0, 1, 1, 2, -1}, 3), focus::Error);
  }
  SECTION("size mismatch") {
    REQUIRE_THROWS_AS(compute_metrics(kProbs, {0, 0, 1, 1, 2}, 3), focus::Error);
    REQUIRE_THROWS_AS(compute_metrics(kProbs, kLabels, 4), focus::Error);
  }
  SECTION("no samples") { REQUIRE_THROWS_AS(compute_metrics({}, {}, 3), focus::Error); }
  SECTION("no classes") { REQUIRE_THROWS_AS(compute_metrics({}, {0}, 0), focus::Error); }
  SECTION("logits instead of probabilities") {
    REQUIRE_THROWS_AS(compute_metrics({2.0f, -1.0f}, {0}, 2), focus::Error);
    REQUIRE_THROWS_AS(compute_metrics({0.3f, 0.3f}, {0}, 2), focus::Error);
    REQUIRE_THROWS_AS(compute_metrics({NAN, 0.5f}, {0}, 2), focus::Error);
  }
  SECTION("bad options") {
    MetricsOptions options;
    options.topk = {0};
    REQUIRE_THROWS_AS(compute_metrics(kProbs, kLabels, 3, options), focus::Error);
    options.topk = {1};
    options.calibration_bins = 0;
    REQUIRE_THROWS_AS(compute_metrics(kProbs, kLabels, 3, options), focus::Error);
  }
  SECTION("the message says what was expected and found") {
    try {
      compute_metrics(kProbs, {0, 0, 1, 1, 2, 7}, 3);
      FAIL("expected focus::Error");
    } catch (const focus::Error& e) {
      const std::string message = e.what();
      CHECK(message.find("[0, 3)") != std::string::npos);
      CHECK(message.find("7") != std::string::npos);
    }
  }
}

TEST_CASE("metrics: JSON round trip", "[eval][metrics]") {
  const Metrics m = three_class();
  const nlohmann::json j = focus::eval::to_json(m, {"cat", "dog", "bird"});
  CHECK(j.at("accuracy").get<double>() == Approx(0.5));
  CHECK(j.at("per_class").at(1).at("name") == "dog");
  CHECK(j.at("topk").at(1).at("k") == 2);
  CHECK(j.at("confusion").at(2).at(1) == 1);

  const Metrics back = focus::eval::metrics_from_json(nlohmann::json::parse(j.dump()));
  CHECK(back.count == m.count);
  CHECK(back.confusion == m.confusion);
  CHECK(back.topk == m.topk);
  CHECK(back.ece == Approx(m.ece));
  CHECK(back.per_class[1].f1 == Approx(0.4));
  CHECK(back.calibration.size() == 3);
  CHECK((focus::eval::class_names_from_json(j) == std::vector<std::string>{"cat", "dog", "bird"}));

  // Without names, indices are used.
  CHECK(focus::eval::to_json(m, {}).at("class_names").at(2) == "2");
  REQUIRE_THROWS_AS(focus::eval::to_json(m, {"cat"}), focus::Error);
  nlohmann::json broken = j;
  broken.erase("nll");
  REQUIRE_THROWS_AS(focus::eval::metrics_from_json(broken), focus::Error);
  broken = j;
  broken["count"] = "six";
  REQUIRE_THROWS_AS(focus::eval::metrics_from_json(broken), focus::Error);
}
