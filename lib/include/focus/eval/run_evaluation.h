#pragma once
// The job behind focus-eval: load one or more runs, predict a split, compute
// metrics and write eval.json, confusion.png, report.html and predictions.jsonl
// (one line per example: label, prediction, its probability, group).
#include <string>
#include <vector>

#include "focus/eval/metrics.h"

namespace focus::eval {

struct EvaluationRequest {
  std::vector<std::string> runs;         ///< one run, or several for an ensemble (averaged probabilities)
  std::string split = "test";            ///< "test", "val" or "train"
  std::string out_dir;                   ///< where to write; default: the run, or <first run>/ensemble
  std::string checkpoint = "best.pt";    ///< which weights: best.pt or checkpoint.pt (last epoch)
  std::string device = "auto";           ///< auto, cpu, cuda, cuda:N
  int64_t batch_size = 0;                ///< 0 = the recipe's eval_batch_size
  std::vector<int> topk = {1, 3, 5};     ///< top-k accuracies to report
  std::string group_by;                  ///< record field giving each example's group ("" = the recipe's group field)
  /// Test-time augmentation: "none", or "flip" (average each image's and its
  /// mirror image's probabilities; image classification runs only).
  std::string tta = "none";
};

struct EvaluationSummary {
  std::string out_dir;
  Metrics metrics;
  std::vector<std::string> files;        ///< files written
};

EvaluationSummary run_evaluation(const EvaluationRequest& request);

}  // namespace focus::eval
