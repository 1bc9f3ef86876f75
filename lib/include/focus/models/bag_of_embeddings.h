#pragma once
// A fastText-like baseline (Joulin et al. 2017): the mean of the token
// embeddings, optionally plus hashed bigram embeddings, then dropout and a
// linear classifier. Word order is ignored except through the bigrams.
// Input batch: inputs = token ids [B, L] (int64), mask = bool [B, L] (true = real token).
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include "focus/models/classifier.h"
#include "focus/util/json_reader.h"

namespace focus::models {

struct BagOfEmbeddingsOptions {
  int64_t vocab_size = 0;       ///< set from the tokenizer
  int64_t num_classes = 2;      ///< set from the data
  int64_t dim = 64;             ///< embedding width
  int64_t bigram_buckets = 0;   ///< hashed bigram table size (0 = words only)
  double dropout = 0.1;         ///< dropout before the classifier
};

BagOfEmbeddingsOptions parse_bag_of_embeddings_options(const util::Json& json, const std::string& context);
util::Json to_json(const BagOfEmbeddingsOptions& options);

class BagOfEmbeddingsImpl : public Classifier {
 public:
  explicit BagOfEmbeddingsImpl(BagOfEmbeddingsOptions options);
  torch::Tensor forward(const data::Batch& batch) override;
  /// No attention: the logits and an empty list.
  ClassifierOutput forward_with_attention(const data::Batch& batch) override;
  void pretty_print(std::ostream& stream) const override;

  BagOfEmbeddingsOptions options;
  torch::nn::Embedding words{nullptr}, bigrams{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear classifier{nullptr};
};

}  // namespace focus::models
