// focus-export: a trained run as one self-contained TorchScript archive.
#include <cstdio>

#include "common/app_common.h"
#include "focus/deploy/export.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Export a trained classifier as one TorchScript archive that C++ (torch::jit::load, focus-predict,\n"
      "focus-serve) and Python (torch.jit.load) load without Focus.\n"
      "Methods: forward(...) -> logits, and forward_with_attention(...) -> (logits, {name: map}) with the\n"
      "same attention maps as the C++ model. Inputs, by model:\n"
      "  attncnn, vit            forward(images [B, C, H, W] float, normalised)\n"
      "  text_transformer, bag_of_embeddings\n"
      "                          forward(ids [B, L] int64, mask [B, L] bool)\n"
      "  han                     forward(ids [B, S, W] int64, mask [B, S, W] bool)\n"
      "  fusion                  forward(images [I, C, H, W], ids [Q, L], mask [Q, L], image_index [Q] = arange(Q))\n"
      "Extra files inside the archive: focus.json (labels, input kind, image size/channels/normalisation,\n"
      "text truncation, tokenizer kind), recipe.json, and tokenizer.json (+ tokenizer.model for SentencePiece).\n"
      "The archive is loaded back and compared with the C++ model on --verify examples of the run's test\n"
      "split (logits and every attention map within --tolerance); a failed check leaves no file behind.\n\n"
      "Examples:\n"
      "  focus-export --run runs/fashion --out runs/fashion/model.pt\n"
      "  focus-export --run runs/spam --out models/spam.pt --verify 0\n\n"
      "Python:\n"
      "  m = torch.jit.load('model.pt', _extra_files={'focus.json': ''}); m(images)",
      "focus-export"};
  focus::deploy::ExportOptions options;
  focus::apps::CommonFlags common;
  std::string run, out;
  app.add_option("--run", run, "Run directory written by focus-train")->required();
  app.add_option("--out", out, "Archive to write (default: <run>/model.pt)");
  app.add_option("--checkpoint", options.checkpoint, "Weights inside the run: best.pt or checkpoint.pt (last)")
      ->check(CLI::IsMember({"best.pt", "checkpoint.pt"}))
      ->capture_default_str();
  app.add_option("--verify", options.verify_examples,
                 "Examples of the split compared between the C++ model and the archive (0 = skip the check)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--verify-split", options.verify_split, "Split the examples come from")
      ->check(CLI::IsMember({"test", "val", "train"}))
      ->capture_default_str();
  app.add_option("--tolerance", options.tolerance, "Largest allowed absolute difference")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--quantize", options.quantize,
                 "int8: dynamic int8 Linear layers (weights int8, activations quantized per call; convolutions stay "
                 "float32); the check then reports the differences and the top-1 agreement instead of failing")
      ->check(CLI::IsMember({"none", "int8"}))
      ->capture_default_str();
  app.add_option("--reference", options.reference_path,
                 "Also write the checked examples as (inputs, logits, {name: map}) for torch.load in Python");
  focus::apps::add_common_flags(app, common);

  return focus::apps::run_app(app, argc, argv, [&] {
    focus::apps::apply_common_flags(common);
    if (out.empty()) out = run + "/model.pt";
    const auto report = focus::deploy::export_run(run, out, options);
    std::printf("exported %s (%s, %s input, %zu classes) to %s, %.1f KiB\n", run.c_str(), report.metadata.arch.c_str(),
                focus::deploy::input_kind_name(report.metadata.input).c_str(), report.metadata.class_names.size(),
                report.path.c_str(), static_cast<double>(report.bytes) / 1024.0);
    if (report.verified_examples > 0)
      std::printf("checked on %ld %s examples: max |difference| %.3g (logits), %.3g (%ld attention maps)\n",
                  static_cast<long>(report.verified_examples), options.verify_split.c_str(),
                  report.max_logit_difference, report.max_attention_difference,
                  static_cast<long>(report.attention_maps));
    if (report.verified_examples > 0 && options.quantize == "int8")
      std::printf("int8: same top-1 class on %.1f%% of them\n", 100.0 * report.top1_agreement);
    return 0;
  });
}
