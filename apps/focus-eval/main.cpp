// focus-eval: metrics and a report for one run or an ensemble of runs.
#include <cstdio>

#include "common/app_common.h"
#include "focus/eval/run_evaluation.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Evaluate a trained run on a data split: accuracy, top-k, per-class precision/recall/F1,\n"
      "macro-F1, confusion matrix and calibration (ECE). Writes eval.json, confusion.png, a\n"
      "self-contained report.html and predictions.jsonl (one line per example: label, prediction,\n"
      "its probability), each prefixed with the split name unless it is 'test'.\n"
      "Works for image, text and image + text (multimodal) classification runs. When the data\n"
      "names a group field (e.g. easy_ham / hard_ham / spam, or a question type), or --group-by\n"
      "names a field of the text or manifest records, eval.json and the report also hold the\n"
      "accuracy of each group.\n"
      "Masked-LM pretraining runs are not classifiers: their metrics.jsonl has the masked-token\n"
      "loss and accuracy.\n\n"
      "Examples:\n"
      "  focus-eval --run runs/fashion\n"
      "  focus-eval --run runs/fashion --split val\n"
      "  focus-eval --run runs/fashion --tta flip\n"
      "  focus-eval --run runs/spam\n"
      "  focus-eval --run runs/clevr-cross --group-by subtype\n"
      "  focus-eval --run runs/a --ensemble runs/b runs/c --out runs/ensemble",
      "focus-eval"};
  focus::eval::EvaluationRequest request;
  focus::apps::CommonFlags common;
  std::string run;
  std::vector<std::string> ensemble;
  app.add_option("--run", run, "Run directory written by focus-train")->required();
  app.add_option("--ensemble", ensemble, "Further runs whose probabilities are averaged with --run's");
  app.add_option("--split", request.split, "Split to evaluate: test, val or train")
      ->check(CLI::IsMember({"test", "val", "train"}))
      ->capture_default_str();
  app.add_option("--checkpoint", request.checkpoint, "Weights inside the run: best.pt or checkpoint.pt (last)")
      ->check(CLI::IsMember({"best.pt", "checkpoint.pt"}))
      ->capture_default_str();
  app.add_option("--out", request.out_dir, "Output directory (default: the run; <run>/ensemble for an ensemble)");
  app.add_option("--batch-size", request.batch_size, "Batch size (0 = the recipe's eval_batch_size)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--group-by", request.group_by,
                 "Field of the text/manifest records whose values group the examples (accuracy per group; "
                 "default: the recipe's group_field)");
  app.add_option("--topk", request.topk, "Top-k accuracies to report")->capture_default_str();
  app.add_option("--tta", request.tta,
                 "Test-time augmentation: none, or flip (average the probabilities of each image and its "
                 "left-right mirror image; image classification runs only, and meant for models trained with "
                 "horizontal flips)")
      ->check(CLI::IsMember({"none", "flip"}))
      ->capture_default_str();
  focus::apps::add_common_flags(app, common);

  return focus::apps::run_app(app, argc, argv, [&] {
    focus::apps::apply_common_flags(common);
    request.runs.push_back(run);
    request.runs.insert(request.runs.end(), ensemble.begin(), ensemble.end());
    request.device = common.device;
    auto summary = focus::eval::run_evaluation(request);
    const auto& m = summary.metrics;
    std::printf("%s split: %ld examples\n", request.split.c_str(), static_cast<long>(m.count));
    std::printf("accuracy %.4f  macro-F1 %.4f  NLL %.4f  ECE %.4f\n", m.accuracy, m.macro_f1, m.nll, m.ece);
    for (const auto& [k, acc] : m.topk) std::printf("top-%d %.4f\n", k, acc);
    for (const auto& f : summary.files) std::printf("wrote %s\n", f.c_str());
    return 0;
  });
}
