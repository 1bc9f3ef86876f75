#include "focus/deploy/export.h"

#include <sstream>

#include <filesystem>
#include <fstream>

#include <torch/serialize.h>

#include "focus/data/multimodal_batch_source.h"
#include "focus/data/sentencepiece_tokenizer.h"
#include "focus/deploy/to_torchscript.h"
#include "focus/train/task.h"
#include "focus/train/text_task.h"
#include "focus/util/atomic_file.h"
#include "focus/util/error.h"

namespace focus::deploy {

namespace fs = std::filesystem;

ScriptMetadata metadata_of(const train::TrainedRun& run) {
  if (run.recipe.task == train::kMaskedLm)
    throw Error(run.dir.root().string() + " is a masked-LM pretraining run, not a classifier: export a run "
                "fine-tuned from it (model.init_from)");
  ScriptMetadata m;
  m.arch = models::architecture_of(run.recipe.model, "model");
  m.input = models::input_kind(m.arch);
  m.class_names = run.class_names;
  if (run.recipe.has_images()) {
    m.channels = run.input.channels;
    m.height = run.input.height;
    m.width = run.input.width;
    m.normalization = run.normalization;
  }
  if (run.recipe.has_tokenizer()) {
    if (run.recipe.is_multimodal()) {
      m.text.layout = data::TextLayout::flat;
      m.text.max_length = run.recipe.multimodal_data.max_length;
    } else {
      m.text = train::text_encoding(run.recipe);
    }
    m.tokenizer = run.tokenizer->kind();
    m.tokenizer_files.push_back(data::kTokenizerFile);
    if (m.tokenizer == "sentencepiece") m.tokenizer_files.push_back(data::SentencePieceTokenizer::kModelFile);
  }
  return m;
}

std::vector<torch::jit::IValue> script_inputs(const data::Batch& batch, models::InputKind kind) {
  switch (kind) {
    case models::InputKind::images: return {batch.inputs};
    case models::InputKind::tokens:
    case models::InputKind::sentences: return {batch.inputs, batch.mask};
    case models::InputKind::image_text:
      return {batch.extra.at(data::kBatchImages), batch.inputs, batch.mask, batch.extra.at(data::kBatchImageIndex)};
  }
  return {};
}

namespace {

double max_difference(const torch::Tensor& a, const torch::Tensor& b, const std::string& what) {
  if (a.sizes() != b.sizes())
    throw Error("export check: " + what + " has shape " + c10::str(b.sizes()) + " in the archive, " +
                c10::str(a.sizes()) + " in the C++ model");
  if (a.numel() == 0) return 0;
  return (a.to(torch::kCPU).to(torch::kDouble) - b.to(torch::kCPU).to(torch::kDouble)).abs().max().item<double>();
}

/// Runs a batch of the run's data through the C++ model and the saved archive.
void verify(const train::TrainedRun& run, const std::string& archive, const ExportOptions& options,
            ExportReport& report) {
  auto data = train::prepare_evaluation(run, options.verify_split, options.verify_examples);
  auto stream = data.source->epoch(0, 0);
  auto batch = stream->next();
  if (!batch) throw Error("export check: the " + options.verify_split + " split of " + run.dir.root().string() + " is empty");
  torch::NoGradGuard no_grad;
  const auto device = run.model->parameters().empty() ? torch::Device(torch::kCPU) : run.model->parameters()[0].device();
  auto on_device = batch->to(device);
  auto expected = run.model->forward_with_attention(on_device);

  auto loaded = torch::jit::load(archive, device);
  auto result = loaded.get_method("forward_with_attention")(script_inputs(on_device, report.metadata.input)).toTuple();
  const auto logits = result->elements()[0].toTensor();
  const auto maps = result->elements()[1].toGenericDict();
  report.max_logit_difference = max_difference(expected.logits, logits, "logits");
  const auto plain = loaded.forward(script_inputs(on_device, report.metadata.input)).toTensor();
  report.max_logit_difference = std::max(report.max_logit_difference, max_difference(expected.logits, plain, "forward"));
  if (static_cast<size_t>(maps.size()) != expected.attention.size())
    throw Error("export check: the archive returns " + std::to_string(maps.size()) + " attention maps, the C++ model " +
                std::to_string(expected.attention.size()));
  for (const auto& map : expected.attention) {
    if (!maps.contains(map.name)) throw Error("export check: the archive has no attention map \"" + map.name + "\"");
    report.max_attention_difference =
        std::max(report.max_attention_difference, max_difference(map.weights, maps.at(map.name).toTensor(), map.name));
  }
  report.attention_maps = static_cast<int64_t>(expected.attention.size());
  report.verified_examples = batch->examples();
  report.top1_agreement = expected.logits.argmax(1).eq(plain.argmax(1)).to(torch::kDouble).mean().item<double>();
  const bool exact = options.quantize != "int8";  // int8 is approximate by design: reported, not required
  if (exact && (!(report.max_logit_difference <= options.tolerance) || !(report.max_attention_difference <= options.tolerance)))
    throw Error("export check failed: the archive differs from the C++ model by " +
                std::to_string(report.max_logit_difference) + " (logits) and " +
                std::to_string(report.max_attention_difference) + " (attention), over the tolerance " +
                std::to_string(options.tolerance));
  if (!options.reference_path.empty()) {
    c10::List<torch::Tensor> inputs;
    for (const auto& v : script_inputs(on_device, report.metadata.input)) inputs.push_back(v.toTensor().cpu());
    c10::Dict<std::string, torch::Tensor> expected_maps;
    for (const auto& map : expected.attention) expected_maps.insert(map.name, map.weights.cpu());
    const auto bytes = torch::pickle_save(c10::ivalue::Tuple::create({inputs, expected.logits.cpu(), expected_maps}));
    util::write_file_atomic(options.reference_path, std::string_view(bytes.data(), bytes.size()));
  }
}

}  // namespace

ExportReport export_run(const std::string& run_dir, const std::string& out_path, const ExportOptions& options) {
  if (options.verify_examples < 0) throw Error("export: verify_examples must be >= 0");
  if (options.quantize != "none" && options.quantize != "int8")
    throw Error("export: quantize must be \"none\" or \"int8\", got \"" + options.quantize + "\"");
  auto run = train::load_trained_run(run_dir, options.checkpoint, torch::Device(torch::kCPU));
  ExportReport report;
  report.metadata = metadata_of(run);
  report.metadata.quantization = options.quantize;
  report.path = out_path;
  TorchScriptOptions script_options;
  script_options.quantize_linear = options.quantize == "int8";
  auto module = to_torchscript(*run.model, script_options);

  torch::jit::ExtraFilesMap extra;
  extra[kMetadataFile] = to_json(report.metadata).dump(2) + "\n";
  extra[kRecipeFile] = util::read_file(run.dir.file("recipe.json"));
  for (const auto& name : report.metadata.tokenizer_files) extra[name] = util::read_file(run.dir.root() / name);

  const fs::path out(out_path);
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  const fs::path temporary = out.string() + ".partial";
  try {
    // Serialized in memory, then written with the library's checked, atomic
    // write: a full or read-only disk is reported with its reason.
    std::ostringstream archive;
    module.save(archive, extra);
    util::write_file_atomic(temporary, archive.str());
    if (options.verify_examples > 0) verify(run, temporary.string(), options, report);
    fs::rename(temporary, out);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw;
  }
  report.bytes = fs::file_size(out);
  return report;
}

}  // namespace focus::deploy
