#pragma once
// From raw examples (encoded image bytes, texts) to the tensors a deployed
// model's forward() takes, with its own preprocessing: images decoded,
// converted to its channels, resized to its size and normalised; texts
// tokenized and truncated as in training. And from logits to the top-k labels.
#include <string>
#include <string_view>
#include <vector>

#include "focus/deploy/script_model.h"

namespace focus::deploy {

struct RawExample {
  std::string name;   ///< for messages and output (a file name, "line 3", ...)
  std::string image;  ///< encoded image bytes (PNG, JPEG, BMP, WebP or PNM); image models
  std::string text;   ///< the text; text models
  std::string image_path;  ///< read when `image` is empty (so that a large directory is read batch by batch)
};

/// [C, H, W] float, normalised. Throws focus::Error naming `origin` for bytes
/// that are not a decodable PNG, JPEG, BMP, WebP or PNM image, or whose header
/// declares more than kMaxImagePixels (a small file must not make the decoder
/// allocate gigabytes; other formats are refused, since their size is not checked).
inline constexpr int64_t kMaxImagePixels = 64LL << 20;
torch::Tensor image_tensor(std::string_view bytes, const std::string& origin, const ScriptMetadata& metadata);
/// Throws focus::Error naming `origin` when the image's size or channel count
/// differs from what the model reads (image_tensor would convert it), e.g.
/// "a.png: the image is 64x48 with 3 channels; the model reads 28x28 with 1 channel".
void check_image_shape(std::string_view bytes, const std::string& origin, const ScriptMetadata& metadata);

/// A normalised image [C, H, W] back to uint8 pixels [H, W, C] for display.
torch::Tensor image_pixels(const torch::Tensor& image, const ScriptMetadata& metadata);

/// forward()'s arguments for a batch of examples, on the model's device.
/// Throws focus::Error naming the example that lacks what the model reads.
std::vector<torch::jit::IValue> make_inputs(const ScriptModel& model, const std::vector<RawExample>& examples);

struct ClassScore {
  int64_t index = 0;
  std::string label;
  double probability = 0;
};
/// The k most probable classes of each row of `logits`, best first.
std::vector<std::vector<ClassScore>> top_k(const ScriptModel& model, const torch::Tensor& logits, int64_t k);

}  // namespace focus::deploy
