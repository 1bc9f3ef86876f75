#pragma once
// Batches of images from an ImageSet, prepared by worker threads.
#include "focus/data/batch_source.h"
#include "focus/data/image_set.h"
#include "focus/data/image_transform.h"
#include "focus/data/parallel_batch_stream.h"

namespace focus::data {

struct ImageBatchOptions {
  int64_t batch_size = 128;   ///< examples per batch (the last batch may be smaller); with a shard, of all ranks together
  Shard shard;                ///< data-parallel training: this rank's rows of each batch
  bool shuffle = false;       ///< new order each epoch, from (seed, epoch)
  bool drop_last = false;     ///< skip a final partial batch
  ParallelOptions parallel;   ///< worker threads and prefetch depth
};

class ImageBatchSource : public BatchSource {
 public:
  ImageBatchSource(ImageSet set, ImageTransform transform, ImageBatchOptions options);
  int64_t size() const override { return set_.size(); }
  int64_t batches() const override;
  std::unique_ptr<BatchStream> epoch(uint64_t seed, int64_t epoch) const override;
  const ImageSet& images() const { return set_; }

 private:
  ImageSet set_;
  ImageTransform transform_;
  ImageBatchOptions options_;
};

}  // namespace focus::data
