#pragma once
// The heatmap focus-serve's classify endpoint returns with a prediction: the
// model's own attention over one example, read from forward_with_attention.
//   images (and image + text): the last map with a spatial layout (CBAM or
//     attention-pooling map, a ViT layer's [CLS] -> patch row, or the
//     question -> region cross-attention), as an overlay PNG (base64) or as
//     the raw grid of weights;
//   text: a weight per token with its byte offsets (the attention-pooling
//     weights, else the last layer's [CLS] row averaged over heads; HAN's
//     word level).
#include <string>
#include <utility>
#include <vector>

#include "focus/deploy/model_inputs.h"
#include "focus/util/json_reader.h"

namespace focus::deploy {

using NamedMaps = std::vector<std::pair<std::string, torch::Tensor>>;

/// The last map with a spatial layout, for example 0 of the batch: its name
/// and its grid [h, w] (undefined when the model has none).
std::pair<std::string, torch::Tensor> spatial_attention(const NamedMaps& maps);

/// `format` is "png" (images: a base64 PNG overlay) or "weights". `maps`
/// come from forward_with_attention on this one example (batch row 0).
/// Returns {"map": name, ...}, or {"error": why} when the model has no map of
/// the kind the input needs.
util::Json example_heatmap(const ScriptModel& model, const RawExample& example, const NamedMaps& maps,
                           const std::string& format);

}  // namespace focus::deploy
