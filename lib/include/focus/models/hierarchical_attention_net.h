#pragma once
// Hierarchical Attention Network (Yang et al. 2016): a bidirectional GRU over
// the words of each sentence, word attention pooling into sentence vectors, a
// bidirectional GRU over the sentences, sentence attention pooling into a
// document vector, dropout and a linear classifier. Both levels of attention
// are returned. Padding is exact: GRUs run on packed sequences and padded
// words/sentences get zero attention.
// Input batch: inputs = token ids [B, S, W] (int64), mask = bool [B, S, W]
// (true = real token); sentences are filled from the first one on.
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

#include "focus/models/classifier.h"
#include "focus/nn/attention_pool.h"
#include "focus/util/json_reader.h"

namespace focus::models {

struct HierarchicalAttentionNetOptions {
  int64_t vocab_size = 0;      ///< set from the tokenizer
  int64_t num_classes = 2;     ///< set from the data
  int64_t embedding_dim = 100; ///< word embedding width
  int64_t hidden = 50;         ///< GRU hidden size per direction (vectors are 2 * hidden wide)
  int64_t attention_dim = 100; ///< width of the tanh projection in both attention layers
  double dropout = 0.1;        ///< dropout on embeddings and before the classifier
};

HierarchicalAttentionNetOptions parse_han_options(const util::Json& json, const std::string& context);
util::Json to_json(const HierarchicalAttentionNetOptions& options);

class HierarchicalAttentionNetImpl : public Classifier {
 public:
  explicit HierarchicalAttentionNetImpl(HierarchicalAttentionNetOptions options);
  torch::Tensor forward(const data::Batch& batch) override;
  /// Attention maps: "word" [B, S, W] (each real sentence's row sums to 1) and "sentence" [B, S].
  ClassifierOutput forward_with_attention(const data::Batch& batch) override;
  void pretty_print(std::ostream& stream) const override;

  HierarchicalAttentionNetOptions options;
  torch::nn::Embedding embedding{nullptr};
  torch::nn::GRU word_gru{nullptr}, sentence_gru{nullptr};
  nn::AttentionPool word_attention{nullptr}, sentence_attention{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear classifier{nullptr};

 private:
  torch::Tensor run(const data::Batch& batch, std::vector<NamedAttention>* maps);
};

}  // namespace focus::models
