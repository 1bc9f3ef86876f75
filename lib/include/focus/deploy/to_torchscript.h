#pragma once
// Translates a trained Focus classifier into an equivalent TorchScript module.
//
// LibTorch cannot script a C++ torch::nn module, so every Focus module type
// has its TorchScript source here: the translation mirrors the module tree
// (same names, so the state dict reads like the C++ one: "encoder.layers.0.
// attention.q_proj.weight"), copies every parameter and buffer, and defines
// each submodule's methods with torch::jit::Module::define. The result is the
// model in evaluation mode (dropout is the identity, batch norm uses its
// running statistics).
//
// Methods of the translated model (inputs by InputKind, see models/factory.h):
//   images:     forward(images [B, C, H, W] float, normalised) -> logits [B, K]
//   tokens:     forward(ids [B, L] int64, mask [B, L] bool)   -> logits
//   sentences:  forward(ids [B, S, W] int64, mask [B, S, W] bool) -> logits
//   image_text: forward(images [I, C, H, W], ids [Q, L], mask [Q, L],
//                       image_index [Q] int64 = arange(Q))     -> logits
// and forward_with_attention(same inputs) -> (logits, Dict[str, Tensor]) with
// the same maps, under the same names, as Classifier::forward_with_attention.
#include <string>

#include <torch/script.h>

#include "focus/models/classifier.h"

namespace focus::deploy {

struct TorchScriptOptions {
  /// Dynamic int8 quantization of every Linear layer: weights stored as int8
  /// (per-tensor symmetric), activations quantized on the fly
  /// (quantized::linear_dynamic on the LibTorch quantized engine, oneDNN or
  /// QNNPACK). Convolutions, embeddings and normalisation stay float32.
  bool quantize_linear = false;
};

/// Throws focus::Error for a module type without a translation (a masked LM,
/// for example), or when quantization is asked for and no quantized engine exists.
torch::jit::Module to_torchscript(const models::Classifier& model, const TorchScriptOptions& options = {});

}  // namespace focus::deploy
