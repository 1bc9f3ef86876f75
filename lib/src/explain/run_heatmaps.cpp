#include "focus/explain/run_heatmaps.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "focus/eval/report.h"
#include "focus/explain/heatmap_image.h"
#include "focus/data/multimodal_batch_source.h"
#include "focus/explain/image_heatmap_page.h"
#include "focus/explain/question_explainer.h"
#include "focus/explain/split_examples.h"
#include "focus/explain/text_explainer.h"
#include "focus/models/factory.h"
#include "focus/train/task.h"
#include "focus/train/text_task.h"
#include "focus/train/trained_run.h"
#include "focus/util/atomic_file.h"
#include "focus/util/error.h"
#include "focus/util/strings.h"
#include "focus/util/log.h"
#include "focus/util/runtime.h"

namespace focus::explain {
namespace fs = std::filesystem;

namespace {

using util::join;

HeatmapSummary run_text_heatmaps(const HeatmapRequest& request, const train::TrainedRun& run, const std::string& arch,
                                 const torch::Device& device) {
  if (!request.options.layer.empty() || request.options.head >= 0)
    throw Error("--layer and --head choose an image model's map; a text page shows every layer and head (pick one "
                "in its selector)");
  const auto methods = checked_methods(request.methods, text_methods(arch), arch);
  const int64_t fixed_target = class_index(request.target, run.class_names);
  const auto split = train::text_split(run, request.split);
  const auto size = static_cast<int64_t>(split.examples.size());
  if (request.first >= size)
    throw Error("--first " + std::to_string(request.first) + ": the " + request.split + " split has " +
                std::to_string(size) + " examples");
  const auto encoding = train::text_encoding(run.recipe);
  std::vector<TextExplanation> explanations;
  util::Json listing = util::Json::array();
  HeatmapSummary summary;
  const int64_t end = request.first + std::min(request.limit, size - request.first);
  for (int64_t i = request.first; i < end; ++i) {
    const auto& example = split.examples[static_cast<size_t>(i)];
    auto e = explain_text(*run.model, arch, *run.tokenizer, example.text, encoding, methods, fixed_target, device,
                          request.options.rollout);
    auto json = to_json(e, run.class_names);
    json["index"] = i;
    json["line"] = example.line;
    json["label"] = example.label;
    listing.push_back(std::move(json));
    if (!e.maps.empty()) {
      auto shown = std::find_if(e.maps.begin(), e.maps.end(), [](const TextMap& m) { return m.method == "rollout"; });
      const auto& map = shown != e.maps.end() ? *shown : e.maps.front();
      summary.terminal += "#" + std::to_string(i) + " [" + map.name + "] " + ansi_text(e, map) + "\n";
    }
    explanations.push_back(std::move(e));
  }
  const fs::path out_dir = request.out.empty() ? fs::path(request.run) / "heatmaps" : fs::path(request.out);
  const std::string html = text_page_html(explanations, run.class_names, "Focus heatmaps: " + request.run + " (" + request.split + ")");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw Error(out_dir.string() + ": cannot create directory: " + ec.message());
  util::write_file_atomic(out_dir / "heatmaps.json",
                          util::Json{{"run", request.run}, {"split", request.split}, {"arch", arch},
                                     {"methods", methods}, {"examples", listing}}.dump(2) + "\n");
  util::write_file_atomic(out_dir / "index.html", html);
  summary.files = 2;
  summary.out_dir = out_dir.string();
  summary.index_html = (out_dir / "index.html").string();
  summary.examples = static_cast<int64_t>(explanations.size());
  summary.methods = methods;
  return summary;
}

/// The page entry of one example: names, probabilities and the input's pixels.
ExplainedImage explained_image(const SplitExample& e, const train::TrainedRun& run, const torch::Tensor& probs,
                               int64_t target, const torch::Tensor& image) {
  char stem[32];
  std::snprintf(stem, sizeof stem, "%05ld", static_cast<long>(e.index));
  const int64_t predicted = probs.argmax().item<int64_t>();
  ExplainedImage ex;
  ex.id = stem;
  ex.index = e.index;
  ex.label = run.class_names.at(static_cast<size_t>(e.label));
  ex.predicted = run.class_names.at(static_cast<size_t>(predicted));
  ex.predicted_probability = probs[predicted].item<double>();
  ex.target = run.class_names.at(static_cast<size_t>(target));
  ex.probability = probs[target].item<double>();
  ex.pixels = input_pixels(image, run.normalization);
  return ex;
}

}  // namespace

std::string model_kind(const train::TrainedRun& run) {
  if (run.recipe.task == train::kMultimodalClassification) {
    auto fusion = run.recipe.model.find("fusion");
    return fusion != run.recipe.model.end() && fusion->is_string() ? fusion->get<std::string>() : "cross";
  }
  return models::architecture_of(run.recipe.model, "model");
}

int64_t class_index(const std::string& target, const std::vector<std::string>& names) {
  if (target.empty()) return -1;
  auto it = std::find(names.begin(), names.end(), target);
  if (it != names.end()) return it - names.begin();
  try {
    size_t used = 0;
    const long v = std::stol(target, &used);
    if (used == target.size() && v >= 0 && v < static_cast<long>(names.size())) return v;
  } catch (const std::exception&) {
  }
  throw Error("--class " + target + ": not a class name or index (classes: " + join(names) + ")");
}

std::vector<std::string> checked_methods(const std::vector<std::string>& requested,
                                         const std::vector<std::string>& applicable, const std::string& arch) {
  const std::vector<std::string> methods = requested.empty() ? applicable : requested;
  for (const auto& m : methods)
    if (std::find(applicable.begin(), applicable.end(), m) == applicable.end())
      throw Error("method '" + m + "' does not apply to this " + arch + " model (methods that do: " + join(applicable) + ")");
  return methods;
}

HeatmapSummary run_heatmaps(const HeatmapRequest& request) {
  if (request.limit < 1 || request.first < 0) throw Error("--limit must be >= 1 and --first >= 0");
  const torch::Device device = util::resolve_device(request.device);
  auto run = train::load_trained_run(request.run, request.checkpoint, device);
  if (run.recipe.task == train::kMaskedLm)
    throw Error(request.run + " is a masked-LM pretraining run, not a classifier: there is no prediction to explain");
  if (run.recipe.is_text()) return run_text_heatmaps(request, run, models::architecture_of(run.recipe.model, "model"), device);
  const bool multimodal = run.recipe.task == train::kMultimodalClassification;
  // Image + text runs are explained per fusion ("cross", "film", ...), image runs per architecture.
  const std::string arch = model_kind(run);
  const auto methods = checked_methods(request.methods, multimodal ? question_methods(arch) : image_methods(arch), arch);
  data::TextEncodingOptions encoding;
  if (multimodal) encoding.max_length = run.recipe.multimodal_data.max_length;
  const int64_t fixed_target = class_index(request.target, run.class_names);

  // Compute everything first, then write: a failure leaves no partial output.
  std::vector<ExplainedImage> examples;
  for_each_example(run, request.split, request.first, request.limit, device, [&](const SplitExample& e) {
    auto probs = example_probabilities(*run.model, e.batch)[0];
    const int64_t predicted = probs.argmax().item<int64_t>();
    const int64_t target = fixed_target >= 0 ? fixed_target : predicted;
    ExplainedImage ex =
        explained_image(e, run, probs, target, multimodal ? e.batch.extra.at(data::kBatchImages) : e.batch.inputs);
    if (multimodal) {
      ex.question = e.text;
      auto encoded = data::encode_text(*run.tokenizer, e.text, encoding);
      ex.words.assign(encoded.tokens.begin() + 1, encoded.tokens.end());
    }
    for (const auto& method : methods) {
      if (multimodal) {
        auto m = explain_question(*run.model, arch, e.batch, method, target, request.options);
        ex.maps.push_back({method, m.map, m.source, m.per_token});
      } else {
        auto m = explain_image(*run.model, arch, e.batch, method, target, request.options);
        ex.maps.push_back({method, m.map, m.source, {}});
      }
    }
    examples.push_back(std::move(ex));
  });
  const fs::path out_dir = request.out.empty() ? fs::path(request.run) / "heatmaps" : fs::path(request.out);
  const auto page = write_image_heatmaps(
      out_dir, {{"run", request.run}, {"split", request.split}, {"arch", arch}},
      "Run <code>" + eval::html_escape(request.run) + "</code>, split " + eval::html_escape(request.split) + ", model " +
          eval::html_escape(arch) + ".",
      methods, examples);
  HeatmapSummary summary;
  summary.files = page.files;
  summary.out_dir = out_dir.string();
  summary.index_html = page.index_html;
  summary.examples = static_cast<int64_t>(examples.size());
  summary.methods = methods;
  return summary;
}

}  // namespace focus::explain
