#pragma once
// A deployed classifier: a TorchScript archive loaded for inference. It is
// either one focus-export wrote (focus.json says what it reads and how to
// preprocess, the tokenizer travels inside) or any TorchScript image
// classifier, for example one saved from Python with torch.jit.script or
// torch.jit.trace, whose preprocessing and labels the caller gives.
#include <memory>
#include <string>
#include <vector>

#include <torch/script.h>

#include "focus/data/tokenizer.h"
#include "focus/deploy/script_metadata.h"

namespace focus::deploy {

/// How to feed an archive without focus.json: forward(images [B, C, H, W]) -> logits.
struct ForeignModelOptions {
  int64_t channels = 3;
  int64_t height = 224;
  int64_t width = 224;
  std::vector<double> mean = {0.485, 0.456, 0.406};  ///< per channel (ImageNet statistics by default)
  std::vector<double> std = {0.229, 0.224, 0.225};
  std::vector<std::string> class_names;  ///< empty: classes are named by their index
};

class ScriptModel {
 public:
  /// Throws focus::Error naming `path` when it is not a TorchScript archive,
  /// or when its focus.json or tokenizer cannot be read.
  static ScriptModel load(const std::string& path, const torch::Device& device,
                          const ForeignModelOptions& foreign = {});

  const std::string& path() const { return path_; }
  /// True when focus-export wrote the archive.
  bool from_focus() const { return from_focus_; }
  const ScriptMetadata& metadata() const { return metadata_; }
  /// The tokenizer of a text model; throws focus::Error for an image model.
  const data::Tokenizer& tokenizer() const;
  const torch::Device& device() const { return device_; }
  /// The class name of a logit index (its number when the archive has no names).
  std::string class_name(int64_t index) const;
  /// Whether the archive has forward_with_attention (Focus exports do).
  bool has_attention() const;

  /// Logits [B, K] for forward()'s arguments, without gradients.
  torch::Tensor forward(const std::vector<torch::jit::IValue>& inputs) const;
  /// (logits, attention maps by name) from forward_with_attention().
  std::pair<torch::Tensor, std::vector<std::pair<std::string, torch::Tensor>>> forward_with_attention(
      const std::vector<torch::jit::IValue>& inputs) const;

 private:
  std::string path_;
  bool from_focus_ = false;
  ScriptMetadata metadata_;
  std::shared_ptr<data::Tokenizer> tokenizer_;
  torch::Device device_{torch::kCPU};
  std::shared_ptr<torch::jit::Module> module_;
};

}  // namespace focus::deploy
