#pragma once
// focus-export's library half: a trained run -> one self-contained
// TorchScript archive (see to_torchscript.h for its methods), with the extra
// files focus.json (script_metadata.h), recipe.json and the tokenizer's files,
// checked against the C++ model on examples of the run's own data.
#include <string>
#include <vector>

#include <torch/script.h>

#include "focus/data/batch.h"
#include "focus/deploy/script_metadata.h"
#include "focus/train/trained_run.h"

namespace focus::deploy {

struct ExportOptions {
  std::string checkpoint = "best.pt";  ///< weights inside the run: best.pt or checkpoint.pt
  int64_t verify_examples = 64;        ///< examples of verify_split run through both models (0 = skip)
  std::string verify_split = "test";   ///< split the examples come from
  double tolerance = 1e-5;             ///< largest allowed |difference| of a logit or attention weight
                                       ///< (float32 archives; an int8 archive reports its differences)
  std::string quantize = "none";       ///< "none" or "int8" (dynamic int8 Linear layers, see to_torchscript.h)
  /// When set (and verify_examples > 0): writes the checked batch as
  /// (inputs, logits, {name: map}) in torch.save's format, so that Python can
  /// check the archive on the same examples (torch.load, then compare).
  std::string reference_path;
};

struct ExportReport {
  std::string path;
  uint64_t bytes = 0;
  ScriptMetadata metadata;
  int64_t verified_examples = 0;  ///< 0 when the check was skipped
  double max_logit_difference = 0;
  double max_attention_difference = 0;
  int64_t attention_maps = 0;     ///< maps compared
  double top1_agreement = 0;      ///< share of the checked examples with the same predicted class
};

/// The metadata of a run's archive.
ScriptMetadata metadata_of(const train::TrainedRun& run);

/// The arguments forward() and forward_with_attention() take for a batch of
/// the run's data (see to_torchscript.h).
std::vector<torch::jit::IValue> script_inputs(const data::Batch& batch, models::InputKind kind);

/// Writes the archive atomically to `out_path`. Throws focus::Error when the
/// run cannot be exported, or when the archive, loaded back, differs from the
/// C++ model by more than the tolerance (nothing is left at `out_path` then).
ExportReport export_run(const std::string& run_dir, const std::string& out_path, const ExportOptions& options);

}  // namespace focus::deploy
