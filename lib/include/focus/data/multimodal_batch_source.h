#pragma once
// Batches of (image, text) examples, e.g. questions about images. Each batch
// decodes and normalises every distinct image it needs once:
//   inputs  = token ids [Q, L] (int64), mask = [Q, L] (true = real token),
//   extra["images"]      = float [I, C, H, W], the batch's distinct images,
//   extra["image_index"] = int64 [Q], the row of each example's image.
// Training batches take the examples of each image in groups of `group_size`
// (each image's examples shuffled and cut into groups, the groups of all
// images shuffled, new each epoch), so a batch holds batch_size / group_size
// images and the image encoder runs once per image it holds.
// A training epoch may use only some examples (a curriculum: first_epoch says
// from which epoch on each example is trained on). Such an epoch still has
// batches() batches: it goes over the available examples as many times as it
// takes, so the learning-rate schedule and the epoch length do not change.
#include <string>
#include <vector>

#include "focus/data/batch_source.h"
#include "focus/data/image_transform.h"
#include "focus/data/text_encoding.h"

namespace focus::data {

/// Keys of Batch::extra for image + text batches.
inline constexpr const char* kBatchImages = "images";
inline constexpr const char* kBatchImageIndex = "image_index";

struct MultimodalBatchOptions {
  int64_t batch_size = 64;  ///< examples per batch (the last may be smaller); with a shard, of all ranks together
  Shard shard;              ///< data-parallel training: this rank's rows of each batch
  bool shuffle = false;     ///< image-grouped order, new each epoch; otherwise file order
  int64_t group_size = 0;   ///< with shuffle: examples of one image kept together (0 = all of them)
  /// With shuffle: per example, the first epoch (1-based) that trains on it; empty = all from epoch 1.
  std::vector<int64_t> first_epoch;
};

class MultimodalBatchSource : public BatchSource {
 public:
  /// images: uint8 [N, H, W, C]; texts, image_of (row in images) and labels: one per example.
  MultimodalBatchSource(torch::Tensor images, Normalization normalization, std::vector<EncodedText> texts,
                        std::vector<int64_t> image_of, std::vector<int64_t> labels, MultimodalBatchOptions options);
  int64_t size() const override { return static_cast<int64_t>(texts_.size()); }
  int64_t batches() const override;
  std::unique_ptr<BatchStream> epoch(uint64_t seed, int64_t epoch) const override;

 private:
  Batch make_batch(const std::vector<int64_t>& indices) const;
  bool available(size_t example, int64_t epoch) const;
  std::vector<std::vector<int64_t>> plan(uint64_t seed, int64_t epoch) const;

  torch::Tensor images_;
  ImageTransform transform_;
  std::vector<EncodedText> texts_;
  std::vector<int64_t> image_of_, labels_;
  MultimodalBatchOptions options_;
};

}  // namespace focus::data
