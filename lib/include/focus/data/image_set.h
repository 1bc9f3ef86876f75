#pragma once
// An in-memory labelled image set: uint8 pixels in [N, H, W, C] order (the
// layout of OpenCV and of IDX files) plus int64 labels.
#include <string>
#include <vector>

#include <torch/types.h>

namespace focus::data {

struct ImageSet {
  torch::Tensor images;                  ///< uint8 [N, H, W, C], contiguous
  torch::Tensor labels;                  ///< int64 [N]
  std::vector<std::string> class_names;  ///< label i is class_names[i]
  std::string source;                    ///< where it came from, for messages

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  int64_t height() const { return images.size(1); }
  int64_t width() const { return images.size(2); }
  int64_t channels() const { return images.size(3); }
  /// The subset at `indices` (a copy).
  ImageSet subset(const std::vector<int64_t>& indices) const;
};

/// Throws focus::Error naming `source` if a label is outside [0, num_classes).
void check_labels(const torch::Tensor& labels, int64_t num_classes, const std::string& source);

}  // namespace focus::data
