// focus-heatmap: what a trained model attended to, as images and raw maps.
#include <unistd.h>

#include <cstdio>

#include "common/app_common.h"
#include "focus/deploy/script_heatmaps.h"
#include "focus/explain/evaluate_heatmaps.h"
#include "focus/explain/run_heatmaps.h"
#include "focus/util/error.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Explain a trained classifier's decisions on examples of a data split.\n"
      "Image runs: for each example and method an overlay PNG (jet colours over the input, the input's\n"
      "size) and the raw map as NumPy .npy, and a grid PNG comparing the methods (labelled with the true\n"
      "and predicted class and its probability).\n"
      "Text runs: a weight per token for every map (each layer and head, rollout, ...), in heatmaps.json\n"
      "with each token's text and byte offsets, and a page highlighting the tokens over the original text\n"
      "with a selector over the maps; on a terminal the texts are also printed with coloured tokens.\n"
      "Image + text runs (FusionNet): the question with its image; cross-attention methods also give the regions\n"
      "each question word attended to, as a strip PNG and an overlay per word (shown on the page when the pointer\n"
      "is over the word).\n"
      "All write heatmaps.json and index.html.\n"
      "--evaluate measures the maps instead (written to faithfulness.json and printed): image and text runs,\n"
      "deletion and insertion AUC for the predicted class (Petsiuk et al. 2018) per method and for a random\n"
      "order; image + text runs, the pointing game on the questions that refer to one object (is the map's\n"
      "maximum inside its box?) against the image centre and a random pixel.\n"
      "TorchScript image classifiers (--model F.pt IMAGES...): a focus-export archive or one saved from Python;\n"
      "methods attention (Focus exports: the model's last spatial map) and occlusion (any archive); archives\n"
      "without Focus metadata take their preprocessing and labels from --channels/--height/--width/--mean/--std/--labels.\n\n"
      "Methods (default: all that apply to the model; text: attention, rollout, grad_rollout, occlusion for\n"
      "Transformers, attention (word and sentence level) and occlusion for HAN, occlusion for the bag of embeddings):\n"
      "  attention     a map the model computes: AttnCNN's CBAM / attention-pooling maps or a non-local block's\n"
      "                attention received per position (--layer picks one),\n"
      "                a ViT layer's [CLS] -> patch attention (--layer encoder.layerN, --head N)\n"
      "                FusionNet (cross): question -> region cross-attention (--layer cross.layerN, --head N);\n"
      "                FusionNet (concat, late): the attention-pooling map over the regions\n"
      "  rollout       attention rollout over the ViT's layers (Abnar & Zuidema 2020)\n"
      "  grad_rollout  gradient-weighted rollout, class-specific (Chefer et al. 2021); for FusionNet (cross) their\n"
      "                bi-modal rule over text, relational and cross-attention layers\n"
      "  gradcam       Grad-CAM on an AttnCNN stage (--layer stageN, default the last) or FusionNet's image grid\n"
      "  occlusion     probability drop under a sliding patch (text: with one token masked out, one forward\n"
      "                call per token, batched); needs forward calls only\n\n"
      "Examples:\n"
      "  focus-heatmap --run runs/fashion --limit 20\n"
      "  focus-heatmap --run runs/fashion-vit --method rollout,grad_rollout --head-fusion max --out out/vit\n"
      "  focus-heatmap --run runs/fashion --method gradcam --layer stage2 --class Sneaker\n"
      "  focus-heatmap --run runs/spam --limit 10 --method rollout,grad_rollout\n"
      "  focus-heatmap --run runs/clevr --limit 10 --method attention,grad_rollout\n"
      "  focus-heatmap --run runs/fashion --evaluate --limit 200\n"
      "  focus-heatmap --run runs/clevr --evaluate --limit 2000\n"
      "  focus-heatmap --model fashion.pt shirt.png boots/ --out out/fashion\n"
      "  focus-heatmap --model resnet18.pt --labels imagenet.txt --method occlusion --patch 32 --stride 16 cat.jpg",
      "focus-heatmap"};
  focus::explain::HeatmapRequest request;
  bool evaluate = false;
  focus::explain::FaithfulnessOptions faithfulness;
  focus::apps::CommonFlags common;
  std::string methods, head_fusion = "mean";
  focus::deploy::ScriptHeatmapRequest script;
  std::string labels_file;
  auto* run_option = app.add_option("--run", request.run, "Run directory written by focus-train");
  auto* model_option = app.add_option("--model", script.model, "TorchScript image classifier (instead of --run)");
  run_option->excludes(model_option);
  app.add_option("images", script.images, "--model: image files or directories");
  app.add_option("--split", request.split, "Split whose examples are explained: test, val or train")
      ->check(CLI::IsMember({"test", "val", "train"}))
      ->capture_default_str();
  app.add_option("--first", request.first, "Index of the first example")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--limit", request.limit, "Number of examples")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--method", methods, "Comma-separated methods (default: all that apply)");
  app.add_option("--class", request.target, "Class to explain, by name or index (default: the predicted class)");
  app.add_option("--layer", request.options.layer, "attention: the map (e.g. head.attention_pool, encoder.layer1); gradcam: the stage (e.g. stage2)");
  app.add_option("--head", request.options.head, "attention on a Transformer: one head (default: the mean of all)");
  app.add_option("--head-fusion", head_fusion, "rollout: how heads are combined")
      ->check(CLI::IsMember({"mean", "max", "min"}))
      ->capture_default_str();
  app.add_option("--discard-ratio", request.options.rollout.discard_ratio,
                 "rollout: share of the smallest attention weights dropped per layer, in [0, 1)")
      ->check(CLI::Range(0.0, 0.999))
      ->capture_default_str();
  app.add_option("--patch", request.options.occlusion.patch, "occlusion: patch side in pixels")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--stride", request.options.occlusion.stride, "occlusion: patch step in pixels")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--evaluate", evaluate,
               "Measure the maps instead of drawing them (deletion/insertion AUC, or the pointing game for image + "
               "text runs); --limit defaults to 100 here");
  app.add_option("--steps", faithfulness.steps, "--evaluate: points of each deletion/insertion curve")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--checkpoint", request.checkpoint, "Weights inside the run: best.pt or checkpoint.pt")
      ->check(CLI::IsMember({"best.pt", "checkpoint.pt"}))
      ->capture_default_str();
  app.add_option("--out", request.out, "Output directory (default: <run>/heatmaps)");
  app.add_flag("--convert-images", script.convert_images,
               "--model: resize and convert images whose size or channel count differs from the model's input "
               "(default: such an image is an error)");
  auto* foreign_group = app.add_option_group("--model without Focus metadata");
  foreign_group->add_option("--labels", labels_file, "File with one class name per line, in logit order");
  foreign_group->add_option("--channels", script.foreign.channels, "Image channels")->check(CLI::IsMember({1, 3}))->capture_default_str();
  foreign_group->add_option("--height", script.foreign.height, "Image height")->check(CLI::PositiveNumber)->capture_default_str();
  foreign_group->add_option("--width", script.foreign.width, "Image width")->check(CLI::PositiveNumber)->capture_default_str();
  foreign_group->add_option("--mean", script.foreign.mean, "Per-channel mean")->capture_default_str();
  foreign_group->add_option("--std", script.foreign.std, "Per-channel standard deviation")->capture_default_str();
  focus::apps::add_common_flags(app, common);

  return focus::apps::run_app(app, argc, argv, [&] {
    focus::apps::apply_common_flags(common);
    request.device = common.device;
    request.options.rollout.head_fusion = focus::explain::parse_head_fusion(head_fusion);
    for (size_t start = 0; start < methods.size();) {
      size_t end = methods.find(',', start);
      if (end == std::string::npos) end = methods.size();
      if (end > start) request.methods.push_back(methods.substr(start, end - start));
      start = end + 1;
    }
    if (request.run.empty() == script.model.empty())
      throw focus::Error("give --run (a run directory) or --model (a TorchScript archive) and its images");
    if (script.model.empty() && !script.images.empty())
      throw focus::Error("image files are explained with --model; --run explains examples of the run's split");
    if (!evaluate && app.count("--steps") > 0) throw focus::Error("--steps applies to --evaluate");
    if (evaluate) {
      if (!script.model.empty()) throw focus::Error("--evaluate measures the maps of a run (--run), not of --model");
      if (app.count("--limit") == 0) request.limit = 100;
      const auto report = focus::explain::evaluate_heatmaps(request, faithfulness);
      std::printf("%s", report.table.c_str());
      if (report.kind == "deletion_insertion")
        std::printf("deletion: lower is better (the class probability falls fast when the most salient units go); "
                    "insertion: higher is better\n");
      std::printf("wrote %s\n", report.json_path.c_str());
      return 0;
    }
    focus::explain::HeatmapSummary summary;
    if (!script.model.empty()) {
      if (script.images.empty()) throw focus::Error("--model needs image files or directories to explain");
      for (const char* flag : {"--split", "--first", "--layer", "--head", "--head-fusion", "--discard-ratio", "--checkpoint"})
        if (app.count(flag) > 0) throw focus::Error(std::string(flag) + " applies to --run, not to --model");
      script.methods = request.methods;
      script.target = request.target;
      script.occlusion = request.options.occlusion;
      script.device = request.device;
      if (app.count("--limit") > 0) script.limit = request.limit;
      if (!request.out.empty()) script.out = request.out;
      if (!labels_file.empty()) script.foreign.class_names = focus::apps::read_labels(labels_file);
      summary = focus::deploy::run_script_heatmaps(script);
    } else {
      summary = focus::explain::run_heatmaps(request);
    }
    std::printf("explained %ld examples with:", static_cast<long>(summary.examples));
    for (const auto& m : summary.methods) std::printf(" %s", m.c_str());
    if (!summary.terminal.empty() && isatty(fileno(stdout))) std::printf("\n%s", summary.terminal.c_str());
    std::printf("\nwrote %ld files to %s\nindex: %s\n", static_cast<long>(summary.files), summary.out_dir.c_str(),
                summary.index_html.c_str());
    return 0;
  });
}
