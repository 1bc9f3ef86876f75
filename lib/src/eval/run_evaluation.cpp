#include "focus/eval/run_evaluation.h"

#include "focus/util/log.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "focus/eval/confusion_plot.h"
#include "focus/eval/report.h"
#include "focus/train/task.h"
#include "focus/train/inference.h"
#include "focus/train/trained_run.h"
#include "focus/util/error.h"
#include "focus/util/runtime.h"

namespace focus::eval {
namespace fs = std::filesystem;

namespace {
/// Accuracy of each group of examples (e.g. easy_ham / hard_ham / spam).
util::Json group_accuracy(const std::vector<float>& probs, const std::vector<int64_t>& labels, int64_t classes,
                          const std::vector<std::string>& groups) {
  std::map<std::string, std::pair<int64_t, int64_t>> counts;  // group -> (correct, total)
  for (size_t i = 0; i < labels.size() && i < groups.size(); ++i) {
    const float* row = probs.data() + i * static_cast<size_t>(classes);
    const auto predicted = std::max_element(row, row + classes) - row;
    auto& c = counts[groups[i]];
    c.first += predicted == labels[i] ? 1 : 0;
    c.second += 1;
  }
  if (groups.size() != labels.size())
    throw Error("internal: " + std::to_string(groups.size()) + " group names for " + std::to_string(labels.size()) +
                " examples");
  util::Json out = util::Json::object();
  for (const auto& [group, c] : counts)
    out[group] = {{"examples", c.second}, {"accuracy", static_cast<double>(c.first) / static_cast<double>(c.second)}};
  return out;
}
/// One JSON line per example: its label, the prediction and its probability
/// (and the group, when the data has one), in the order of the split.
std::string predictions_jsonl(const std::vector<float>& probs, const std::vector<int64_t>& labels,
                              const std::vector<std::string>& class_names, const std::vector<std::string>& groups) {
  const auto classes = class_names.size();
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) {
    const float* row = probs.data() + i * classes;
    const auto predicted = static_cast<size_t>(std::max_element(row, row + classes) - row);
    util::Json line = {{"index", i},
                       {"label", class_names[static_cast<size_t>(labels[i])]},
                       {"predicted", class_names[predicted]},
                       {"probability", row[predicted]}};
    if (!groups.empty()) line["group"] = groups[i];
    out += line.dump() + "\n";
  }
  return out;
}
}  // namespace

EvaluationSummary run_evaluation(const EvaluationRequest& request) {
  if (request.runs.empty()) throw Error("no run given (--run)");
  if (request.split != "test" && request.split != "val" && request.split != "train")
    throw Error("unknown split '" + request.split + "': expected test, val or train");
  for (int k : request.topk)
    if (k < 1) throw Error("--topk values must be at least 1, got " + std::to_string(k));
  if (request.tta != "none" && request.tta != "flip")
    throw Error("unknown test-time augmentation '" + request.tta + "': expected none or flip");
  const torch::Device device = util::resolve_device(request.device);

  torch::Tensor probability_sum, targets;
  std::vector<std::string> class_names;
  std::vector<std::string> groups;  // per example, when the data names groups
  util::Json extra = util::Json::object();
  for (const auto& run_dir : request.runs) {
    auto run = train::load_trained_run(run_dir, request.checkpoint, device);
    if (class_names.empty()) {
      class_names = run.class_names;
    } else if (class_names != run.class_names) {
      throw Error("run " + run_dir + " has other class names than " + request.runs.front() +
                  ": an ensemble needs runs trained on the same labels");
    }
    if (run.recipe.task == train::kMaskedLm)
      throw Error(run_dir + " is a masked-LM pretraining run: focus-eval evaluates classifiers (the run's "
                  "metrics.jsonl has its masked-token loss and accuracy per epoch; fine-tune it with model.init_from)");
    const int64_t batch = request.batch_size > 0 ? request.batch_size : run.recipe.train.eval_batch_size;
    auto data = train::prepare_evaluation(run, request.split, batch, request.group_by);
    auto& source = data.source;
    if (groups.empty()) groups = data.groups;
    util::log()->info("evaluating {} on {} ({} examples)", run_dir, request.split, source->size());
    train::InferenceOptions inference;
    if (request.tta == "flip") {
      if (run.recipe.task != train::kImageClassification)
        throw Error(run_dir + ": --tta flip needs an image classification run; this run's task is " + run.recipe.task +
                    " (mirroring would change what a text or a question about positions means)");
      inference.average_flipped = true;
    }
    auto result = train::run_inference(*run.model, *source, device, inference);
    if (!result.probabilities.defined()) throw Error("split '" + request.split + "' of " + run_dir + " is empty");
    if (!probability_sum.defined()) {
      probability_sum = result.probabilities.clone();
      targets = result.targets;
    } else {
      if (!targets.equal(result.targets))
        throw Error("run " + run_dir + " sees other " + request.split + " data than " + request.runs.front() +
                    ": an ensemble needs runs on the same dataset split");
      probability_sum += result.probabilities;
    }
    if (request.runs.size() == 1) {
      extra["recipe"] = run.recipe.name;
      extra["checkpoint"] = run.dir.file(request.checkpoint).string();
      if (run.dir.exists("summary.json")) {
        auto s = run.dir.read_json("summary.json");
        for (const char* key : {"epochs_completed", "best_epoch", "train_seconds", "examples_per_second", "parameters"})
          if (s.contains(key)) extra[key] = s[key];
      }
    }
  }
  extra["tta"] = request.tta;
  auto probs = (probability_sum / static_cast<double>(request.runs.size())).contiguous();
  std::vector<float> p(probs.data_ptr<float>(), probs.data_ptr<float>() + probs.numel());
  std::vector<int64_t> labels(targets.data_ptr<int64_t>(), targets.data_ptr<int64_t>() + targets.numel());
  MetricsOptions options;
  options.topk = request.topk;
  Metrics metrics = compute_metrics(p, labels, static_cast<int>(class_names.size()), options);

  std::string out = request.out_dir;
  if (out.empty()) out = request.runs.size() == 1 ? request.runs.front() : (fs::path(request.runs.front()) / "ensemble").string();
  auto dir = util::RunDirectory::create(out);
  const std::string prefix = request.split == "test" ? "" : request.split + "-";
  util::Json json = to_json(metrics, class_names);
  json["split"] = request.split;
  json["runs"] = request.runs;
  json["checkpoint"] = request.checkpoint;
  json["tta"] = request.tta;
  if (!groups.empty()) {
    json["groups"] = group_accuracy(p, labels, static_cast<int64_t>(class_names.size()), groups);
    extra["accuracy_by_group"] = json["groups"];
  }

  ReportInput report;
  report.title = request.runs.size() == 1 ? fs::path(request.runs.front()).filename().string()
                                          : "ensemble of " + std::to_string(request.runs.size()) + " runs";
  report.split = request.split;
  report.runs = request.runs;
  report.class_names = class_names;
  report.metrics = metrics;
  report.confusion_png = render_confusion_png(metrics.confusion, class_names);
  report.extra = extra;
  const std::string html = render_report_html(report);

  EvaluationSummary summary;
  summary.out_dir = out;
  dir.write_json(prefix + "eval.json", json);
  dir.write_text(prefix + "confusion.png", report.confusion_png);
  dir.write_text(prefix + "report.html", html);
  dir.write_text(prefix + "predictions.jsonl", predictions_jsonl(p, labels, class_names, groups));
  for (const char* f : {"eval.json", "confusion.png", "report.html", "predictions.jsonl"})
    summary.files.push_back(dir.file(prefix + f).string());
  summary.metrics = std::move(metrics);
  return summary;
}

}  // namespace focus::eval
