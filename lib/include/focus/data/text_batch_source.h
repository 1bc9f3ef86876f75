#pragma once
// Batches of encoded texts. Each batch is padded to its longest member (not
// to max_length): flat texts give ids [B, L] with a mask [B, L]; sentence
// layout gives ids [B, S, W] with a mask [B, S, W]. Training batches can be
// drawn from length buckets (examples of similar length batched together,
// the batch order shuffled) to waste less compute on padding. For masked-LM
// pretraining the batch is corrupted with mask_tokens and carries
// extra["mlm_positions"]; targets are then the original ids. Classification
// training batches can have token dropout: each real, non-special token
// becomes [MASK] with a given chance, a new draw every epoch (an augmentation
// against leaning on single tokens; the labels stay).
#include <utility>
#include <vector>

#include "focus/data/batch_source.h"
#include "focus/data/mlm_masking.h"
#include "focus/data/text_encoding.h"

namespace focus::data {

struct TextBatchOptions {
  int64_t batch_size = 32;         ///< examples per batch (the last may be smaller); with a shard, of all ranks together
  Shard shard;                     ///< data-parallel training: this rank's rows of each batch
  bool shuffle = false;            ///< new order each epoch, from (seed, epoch)
  bool bucket_by_length = false;   ///< with shuffle: batch examples of similar length together
  TextLayout layout = TextLayout::flat;
  bool masked_lm = false;          ///< corrupt tokens and predict them (targets = original ids)
  MlmMaskingOptions masking;       ///< masked-LM settings
  double token_dropout = 0;        ///< classification: chance that a real, non-special token becomes [MASK]
};

/// Token ids [B, L] (int64, [PAD] filled) and mask [B, L] (true = real token)
/// of texts[indices] in the flat layout, padded to the longest of them.
std::pair<torch::Tensor, torch::Tensor> pad_flat_tokens(const std::vector<EncodedText>& texts,
                                                        const std::vector<int64_t>& indices);
/// Token ids [B, S, W] and mask [B, S, W] of texts[indices] in the sentence
/// layout (hierarchical models), padded to the most sentences and the longest sentence.
std::pair<torch::Tensor, torch::Tensor> pad_sentence_tokens(const std::vector<EncodedText>& texts,
                                                            const std::vector<int64_t>& indices);

class TextBatchSource : public BatchSource {
 public:
  /// labels: one class index per text (ignored, and may be empty, for masked LM).
  TextBatchSource(std::vector<EncodedText> texts, std::vector<int64_t> labels, TextBatchOptions options);
  int64_t size() const override { return static_cast<int64_t>(texts_.size()); }
  int64_t batches() const override;
  std::unique_ptr<BatchStream> epoch(uint64_t seed, int64_t epoch) const override;

 private:
  /// The batch of the given examples (in that order), without masking.
  Batch make_batch(const std::vector<int64_t>& indices) const;
  std::vector<std::vector<int64_t>> plan(uint64_t seed, int64_t epoch) const;

  std::vector<EncodedText> texts_;
  std::vector<int64_t> labels_;
  TextBatchOptions options_;
};

}  // namespace focus::data
