#pragma once
// The manifest of a multimodal (image + text) dataset: JSON Lines, one
// example per line, e.g.
//   {"image": "images/train/000000.png", "text": "Is the red object on the left?", "label": "yes", "type": "non_relational"}
// `image` is a path relative to the manifest's directory (or absolute),
// `text` a string, `label` a string or integer; any other field is kept for
// breakdowns (`group_field`, focus-eval --group-by) and otherwise ignored.
// Several lines may name the same image (e.g. several questions about it);
// it is decoded once. Empty lines are skipped. Errors name "manifest:line".
#include <string>
#include <string_view>
#include <vector>

#include <torch/types.h>

namespace focus::data {

struct ManifestReadOptions {
  std::string image_field = "image";
  std::string text_field = "text";
  std::string label_field = "label";  ///< "" = unlabelled
  std::string group_field;            ///< "" = none; otherwise required (string or integer) in every record
};

struct ManifestExample {
  std::string image;  ///< path as written in the manifest
  std::string text;
  std::string label;  ///< "" without a label field
  std::string group;  ///< "" without a group field
  int64_t line = 0;   ///< 1-based line in the manifest
};

/// Reads a manifest file. Throws focus::Error naming file:line for malformed
/// JSON, a missing field or a field of the wrong type.
std::vector<ManifestExample> read_manifest(const std::string& path, const ManifestReadOptions& options);
/// The same from memory; `origin` names the source in messages.
std::vector<ManifestExample> parse_manifest(std::string_view content, const std::string& origin,
                                            const ManifestReadOptions& options);

struct ManifestImages {
  torch::Tensor images;             ///< uint8 [N, H, W, C], each distinct image once, in first-use order
  std::vector<int64_t> image_of;    ///< per example: its row in `images`
  std::vector<std::string> paths;   ///< per row: the resolved file
};

/// Decodes the images of `examples` (each distinct path once) to `channels`
/// (1 or 3) and, when image_size > 0, to image_size x image_size. Paths are
/// relative to the directory of `manifest_path`. Throws focus::Error naming
/// manifest:line for a missing or undecodable image, or one whose size
/// differs from the first (without image_size).
ManifestImages load_manifest_images(const std::vector<ManifestExample>& examples, const std::string& manifest_path,
                                    int channels, int image_size);

}  // namespace focus::data
