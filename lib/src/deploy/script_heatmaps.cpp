#include "focus/deploy/script_heatmaps.h"

#include <algorithm>
#include <filesystem>

#include "focus/deploy/example_sources.h"
#include "focus/deploy/model_inputs.h"
#include "focus/deploy/quick_heatmap.h"
#include "focus/eval/report.h"
#include "focus/explain/image_heatmap_page.h"
#include "focus/util/atomic_file.h"
#include "focus/util/error.h"
#include "focus/util/runtime.h"
#include "focus/util/strings.h"

namespace focus::deploy {

namespace {

int64_t target_index(const std::string& target, const ScriptModel& model, int64_t classes) {
  if (target.empty()) return -1;
  const auto& names = model.metadata().class_names;
  auto it = std::find(names.begin(), names.end(), target);
  if (it != names.end()) return it - names.begin();
  try {
    size_t used = 0;
    const long v = std::stol(target, &used);
    if (used == target.size() && v >= 0 && v < classes) return v;
  } catch (const std::exception&) {
  }
  throw Error("--class " + target + ": not a class name or an index below " + std::to_string(classes) +
              (names.empty() ? "" : " (classes: " + util::join(names) + ")"));
}

/// A file stem for an example: its position and file name, without characters HTML or shells mind.
std::string stem_of(size_t position, const std::string& path) {
  std::string name = std::filesystem::path(path).stem().string();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "%03zu-", position);
  return prefix + name.substr(0, 40);
}

}  // namespace

explain::HeatmapSummary run_script_heatmaps(const ScriptHeatmapRequest& request) {
  const auto model = ScriptModel::load(request.model, util::resolve_device(request.device), request.foreign);
  const auto& m = model.metadata();
  if (m.input != models::InputKind::images)
    throw Error("focus-heatmap --model explains image classifiers; " + request.model + " reads " +
                input_kind_name(m.input) + " (use --run with its run directory for text and image + text models)");
  std::vector<std::string> applicable;
  if (model.has_attention()) applicable.push_back("attention");
  applicable.push_back("occlusion");
  const auto methods = request.methods.empty() ? applicable : request.methods;
  for (const auto& method : methods)
    if (std::find(applicable.begin(), applicable.end(), method) == applicable.end())
      throw Error("method '" + method + "' does not apply to " + request.model + " (methods that do: " +
                  util::join(applicable) + (model.has_attention() ? "" : "; attention needs a Focus export") + ")");
  ExampleSourceOptions sources;
  sources.paths = request.images;
  auto inputs = gather_examples(sources, m.input);
  if (request.limit > 0 && static_cast<int64_t>(inputs.size()) > request.limit) inputs.resize(static_cast<size_t>(request.limit));

  std::vector<explain::ExplainedImage> examples;
  for (size_t i = 0; i < inputs.size(); ++i) {
    // A map over a resized or recoloured image is not a map over the user's image: say so unless asked to convert.
    if (!request.convert_images)
      check_image_shape(inputs[i].image.empty() ? util::read_file(inputs[i].image_path) : inputs[i].image,
                        inputs[i].name + " (pass --convert-images to resize it)", m);
    const auto args = make_inputs(model, {inputs[i]});
    const auto image = args[0].toTensor();  // [1, C, H, W]
    const auto probabilities = torch::softmax(model.forward(args), 1)[0].to(torch::kCPU);
    const int64_t predicted = probabilities.argmax().item<int64_t>();
    const int64_t fixed = target_index(request.target, model, probabilities.size(0));
    const int64_t target = fixed >= 0 ? fixed : predicted;
    explain::ExplainedImage ex;
    ex.id = stem_of(i, inputs[i].name);
    ex.predicted = model.class_name(predicted);
    ex.predicted_probability = probabilities[predicted].item<double>();
    ex.target = model.class_name(target);
    ex.probability = probabilities[target].item<double>();
    ex.pixels = image_pixels(image[0], m);
    for (const auto& method : methods) {
      if (method == "attention") {
        auto [name, grid] = spatial_attention(model.forward_with_attention(args).second);
        if (!grid.defined())
          throw Error(request.model + ": the model exposes no spatial attention map (use --method occlusion)");
        ex.maps.push_back({method, grid, name, {}});
      } else {
        auto probability_fn = [&model](const torch::Tensor& images) {
          return torch::softmax(model.forward({images}), 1);
        };
        auto map = explain::occlusion_map(probability_fn, image[0], target, request.occlusion);
        ex.maps.push_back({method, map,
                           "patch " + std::to_string(request.occlusion.patch) + ", stride " +
                               std::to_string(request.occlusion.stride),
                           {}});
      }
    }
    examples.push_back(std::move(ex));
  }
  const auto page = explain::write_image_heatmaps(
      request.out, {{"model", request.model}, {"arch", m.arch.empty() ? "torchscript" : m.arch}},
      "TorchScript model <code>" + eval::html_escape(request.model) + "</code>" +
          (model.from_focus() ? " (exported by Focus, " + eval::html_escape(m.arch) + ")" : " (no Focus metadata)") + ".",
      methods, examples);
  explain::HeatmapSummary summary;
  summary.out_dir = request.out;
  summary.index_html = page.index_html;
  summary.files = page.files;
  summary.examples = static_cast<int64_t>(examples.size());
  summary.methods = methods;
  return summary;
}

}  // namespace focus::deploy
