#include "focus/models/hierarchical_attention_net.h"

#include <torch/nn/utils/rnn.h>

#include "focus/util/error.h"

namespace focus::models {

namespace {
/// A bidirectional GRU over padded sequences [N, T, D] with lengths [N] (>= 1),
/// run packed so that padding never reaches the real positions. Returns [N, T, 2H].
torch::Tensor run_packed(torch::nn::GRU& gru, const torch::Tensor& x, const torch::Tensor& lengths) {
  namespace rnn = torch::nn::utils::rnn;
  auto packed = rnn::pack_padded_sequence(x, lengths.to(torch::kCPU), /*batch_first=*/true, /*enforce_sorted=*/false);
  auto output = std::get<0>(gru->forward_with_packed_input(packed));
  return std::get<0>(rnn::pad_packed_sequence(output, /*batch_first=*/true, 0.0, x.size(1)));
}
}  // namespace

HierarchicalAttentionNetOptions parse_han_options(const util::Json& json, const std::string& context) {
  HierarchicalAttentionNetOptions o;
  util::ObjectReader r(json, context);
  std::string arch;
  r.read("arch", arch).read("embedding_dim", o.embedding_dim).read("hidden", o.hidden);
  r.read("attention_dim", o.attention_dim).read("dropout", o.dropout);
  r.finish();
  if (o.embedding_dim < 1 || o.hidden < 1 || o.attention_dim < 1 || o.dropout < 0 || o.dropout >= 1)
    throw Error(context + ": need embedding_dim, hidden, attention_dim >= 1 and 0 <= dropout < 1");
  return o;
}

util::Json to_json(const HierarchicalAttentionNetOptions& o) {
  return {{"arch", "han"},
          {"embedding_dim", o.embedding_dim},
          {"hidden", o.hidden},
          {"attention_dim", o.attention_dim},
          {"dropout", o.dropout}};
}

HierarchicalAttentionNetImpl::HierarchicalAttentionNetImpl(HierarchicalAttentionNetOptions options_)
    : options(std::move(options_)) {
  TORCH_CHECK(options.vocab_size > 0, "HierarchicalAttentionNet: vocab_size must be set");
  const int64_t width = 2 * options.hidden;
  embedding = register_module(
      "embedding", torch::nn::Embedding(torch::nn::EmbeddingOptions(options.vocab_size, options.embedding_dim).padding_idx(0)));
  auto gru = [&](int64_t input) {
    return torch::nn::GRU(torch::nn::GRUOptions(input, options.hidden).batch_first(true).bidirectional(true));
  };
  word_gru = register_module("word_gru", gru(options.embedding_dim));
  word_attention = register_module("word_attention", nn::AttentionPool(nn::AttentionPoolOptions(width).hidden(options.attention_dim)));
  sentence_gru = register_module("sentence_gru", gru(width));
  sentence_attention =
      register_module("sentence_attention", nn::AttentionPool(nn::AttentionPoolOptions(width).hidden(options.attention_dim)));
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout));
  classifier = register_module("classifier", torch::nn::Linear(width, options.num_classes));
}

torch::Tensor HierarchicalAttentionNetImpl::run(const data::Batch& batch, std::vector<NamedAttention>* maps) {
  const auto& ids = batch.inputs;
  TORCH_CHECK(ids.dim() == 3, "HierarchicalAttentionNet: expected token ids [B, S, W], got ", ids.sizes());
  TORCH_CHECK(batch.mask.defined() && batch.mask.sizes() == ids.sizes(),
              "HierarchicalAttentionNet: expected a mask [B, S, W] like the ids");
  const int64_t B = ids.size(0), S = ids.size(1), W = ids.size(2), width = 2 * options.hidden;
  auto valid = batch.mask.reshape({B * S, W});
  auto word_counts = valid.sum(1);                           // [B*S]
  auto present = word_counts.gt(0).nonzero().squeeze(1);     // sentences with at least one token

  // Word level, on the non-empty sentences only.
  auto sentence_vectors = torch::zeros({B * S, width}, ids.options().dtype(torch::kFloat));
  auto word_weights = torch::zeros({B * S, W}, sentence_vectors.options());
  if (present.numel() > 0) {
    auto words = dropout(embedding(ids.reshape({B * S, W}).index_select(0, present)));
    auto states = run_packed(word_gru, words, word_counts.index_select(0, present));
    auto pooled = word_attention(states, valid.index_select(0, present));
    sentence_vectors = sentence_vectors.index_copy(0, present, pooled.pooled);
    word_weights = word_weights.index_copy(0, present, pooled.weights);
  }

  // Sentence level: documents have their sentences first, padding after.
  auto sentence_valid = word_counts.gt(0).reshape({B, S});
  auto positions = torch::arange(1, S + 1, ids.options()).unsqueeze(0);
  auto sentence_counts = (sentence_valid.to(torch::kLong) * positions).amax(1).clamp_min(1);
  auto states = run_packed(sentence_gru, sentence_vectors.reshape({B, S, width}), sentence_counts);
  auto document = sentence_attention(states, sentence_valid);
  if (maps) {
    maps->push_back({"word", word_weights.reshape({B, S, W})});
    maps->push_back({"sentence", document.weights});
  }
  return classifier(dropout(document.pooled));
}

torch::Tensor HierarchicalAttentionNetImpl::forward(const data::Batch& batch) { return run(batch, nullptr); }

ClassifierOutput HierarchicalAttentionNetImpl::forward_with_attention(const data::Batch& batch) {
  ClassifierOutput out;
  out.logits = run(batch, &out.attention);
  return out;
}

void HierarchicalAttentionNetImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::models::HierarchicalAttentionNet(vocab=" << options.vocab_size
         << ", embedding_dim=" << options.embedding_dim << ", hidden=" << options.hidden
         << ", attention_dim=" << options.attention_dim << ", classes=" << options.num_classes << ")";
}

}  // namespace focus::models
