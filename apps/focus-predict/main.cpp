// focus-predict: top-k predictions of a TorchScript classifier on files and texts.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "common/app_common.h"
#include "focus/deploy/example_sources.h"
#include "focus/util/error.h"
#include "focus/util/json_reader.h"
#include "focus/util/log.h"
#include "focus/util/runtime.h"

namespace {

void print_table(const std::vector<focus::deploy::RawExample>& examples,
                 const std::vector<std::vector<focus::deploy::ClassScore>>& scores, size_t offset) {
  for (size_t i = 0; i < scores.size(); ++i) {
    std::string name = examples[offset + i].name;
    if (name.size() > 48) name = "..." + name.substr(name.size() - 45);
    std::printf("%-48s", name.c_str());
    for (const auto& s : scores[i]) std::printf("  %s %5.1f%%", s.label.c_str(), 100.0 * s.probability);
    std::printf("\n");
  }
}

void print_jsonl(const std::vector<focus::deploy::RawExample>& examples,
                 const std::vector<std::vector<focus::deploy::ClassScore>>& scores, size_t offset) {
  for (size_t i = 0; i < scores.size(); ++i) {
    focus::util::Json top = focus::util::Json::array();
    for (const auto& s : scores[i]) top.push_back({{"label", s.label}, {"index", s.index}, {"probability", s.probability}});
    focus::util::Json line = {{"input", examples[offset + i].name}, {"predictions", top}};
    std::printf("%s\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Predict with a TorchScript classifier: one exported by focus-export, or any TorchScript image\n"
      "classifier (e.g. saved from Python with torch.jit.script / torch.jit.trace).\n"
      "Inputs: image files and directories (searched recursively for .png .jpg .jpeg .bmp .webp .pgm\n"
      ".ppm .pbm .pnm), --text, --text-file (one text per line, '-' for stdin) or --jsonl (a text field and/or an image\n"
      "path relative to the file). Image + text models pair images with texts in order, or read both from\n"
      "--jsonl. Images are converted to the model's channels, resized (area interpolation) to its size and\n"
      "normalised; texts are tokenized and truncated as in training.\n"
      "Output: the top-k labels and probabilities per input, as a table on a terminal and as JSON lines\n"
      "otherwise ({\"input\": ..., \"predictions\": [{\"label\", \"index\", \"probability\"}, ...]}).\n"
      "An archive without Focus metadata is an image classifier taking forward(images [B, C, H, W]); its\n"
      "preprocessing comes from --channels/--height/--width/--mean/--std and its labels from --labels.\n\n"
      "Examples:\n"
      "  focus-predict --model runs/fashion/model.pt shirt.png boots/\n"
      "  focus-predict --model spam.pt --text \"WIN a FREE prize now\" --top-k 2\n"
      "  focus-predict --model clevr.pt scene.png --text \"What is the shape of the red object?\"\n"
      "  focus-predict --model resnet18.pt --labels imagenet.txt --format jsonl photos/",
      "focus-predict"};
  focus::deploy::ExampleSourceOptions sources;
  focus::deploy::ForeignModelOptions foreign;
  focus::apps::CommonFlags common;
  std::string model_path, labels_file, format = "auto";
  int64_t top = 5, batch_size = 32;
  app.add_option("--model", model_path, "TorchScript archive")->required();
  app.add_option("inputs", sources.paths, "Image files or directories");
  app.add_option("--text", sources.texts, "A text to classify (repeatable)");
  app.add_option("--text-file", sources.text_files, "File with one text per line ('-' = stdin; repeatable)");
  app.add_option("--jsonl", sources.jsonl_files, "JSONL file of inputs (repeatable)");
  app.add_option("--text-field", sources.text_field, "JSONL: field holding the text")->capture_default_str();
  app.add_option("--image-field", sources.image_field, "JSONL: field holding the image path")->capture_default_str();
  app.add_option("--top-k", top, "Labels printed per input")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--batch-size", batch_size, "Inputs per forward call")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--format", format, "auto (table on a terminal, else jsonl), table or jsonl")
      ->check(CLI::IsMember({"auto", "table", "jsonl"}))
      ->capture_default_str();
  auto* foreign_group = app.add_option_group("Models without Focus metadata");
  foreign_group->add_option("--labels", labels_file, "File with one class name per line, in logit order");
  foreign_group->add_option("--channels", foreign.channels, "Image channels: 1 or 3")
      ->check(CLI::IsMember({1, 3}))
      ->capture_default_str();
  foreign_group->add_option("--height", foreign.height, "Image height")->check(CLI::PositiveNumber)->capture_default_str();
  foreign_group->add_option("--width", foreign.width, "Image width")->check(CLI::PositiveNumber)->capture_default_str();
  foreign_group->add_option("--mean", foreign.mean, "Per-channel mean on the [0, 1] scale")->capture_default_str();
  foreign_group->add_option("--std", foreign.std, "Per-channel standard deviation")->capture_default_str();
  focus::apps::add_common_flags(app, common);

  return focus::apps::run_app(app, argc, argv, [&] {
    focus::apps::apply_common_flags(common);
    if (!labels_file.empty()) foreign.class_names = focus::apps::read_labels(labels_file);
    const auto device = focus::util::resolve_device(common.device);
    const auto model = focus::deploy::ScriptModel::load(model_path, device, foreign);
    if (model.from_focus() && !labels_file.empty())
      focus::util::log()->warn("{} names its labels; --labels is ignored", model_path);
    const auto examples = focus::deploy::gather_examples(sources, model.metadata().input);
    const bool table = format == "table" || (format == "auto" && ::isatty(STDOUT_FILENO) == 1);
    for (size_t start = 0; start < examples.size(); start += static_cast<size_t>(batch_size)) {
      const size_t end = std::min(examples.size(), start + static_cast<size_t>(batch_size));
      const std::vector<focus::deploy::RawExample> batch(examples.begin() + static_cast<std::ptrdiff_t>(start),
                                                         examples.begin() + static_cast<std::ptrdiff_t>(end));
      const auto logits = model.forward(focus::deploy::make_inputs(model, batch));
      if (!model.metadata().class_names.empty() &&
          logits.size(1) != static_cast<int64_t>(model.metadata().class_names.size()))
        throw focus::Error(model_path + ": the model returns " + std::to_string(logits.size(1)) + " logits for " +
                           std::to_string(model.metadata().class_names.size()) + " labels");
      const auto scores = focus::deploy::top_k(model, logits, top);
      if (table)
        print_table(examples, scores, start);
      else
        print_jsonl(examples, scores, start);
      std::fflush(stdout);
    }
    return 0;
  });
}
