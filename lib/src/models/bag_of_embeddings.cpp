#include "focus/models/bag_of_embeddings.h"

#include "focus/util/error.h"

namespace focus::models {

BagOfEmbeddingsOptions parse_bag_of_embeddings_options(const util::Json& json, const std::string& context) {
  BagOfEmbeddingsOptions o;
  util::ObjectReader r(json, context);
  std::string arch;
  r.read("arch", arch).read("dim", o.dim).read("bigram_buckets", o.bigram_buckets).read("dropout", o.dropout);
  r.finish();
  if (o.dim < 1 || o.bigram_buckets < 0 || o.dropout < 0 || o.dropout >= 1)
    throw Error(context + ": need dim >= 1, bigram_buckets >= 0 and 0 <= dropout < 1");
  return o;
}

util::Json to_json(const BagOfEmbeddingsOptions& o) {
  return {{"arch", "bag_of_embeddings"}, {"dim", o.dim}, {"bigram_buckets", o.bigram_buckets}, {"dropout", o.dropout}};
}

BagOfEmbeddingsImpl::BagOfEmbeddingsImpl(BagOfEmbeddingsOptions options_) : options(std::move(options_)) {
  TORCH_CHECK(options.vocab_size > 0, "BagOfEmbeddings: vocab_size must be set");
  words = register_module("words", torch::nn::Embedding(options.vocab_size, options.dim));
  if (options.bigram_buckets > 0)
    bigrams = register_module("bigrams", torch::nn::Embedding(options.bigram_buckets, options.dim));
  for (auto& table : {words, bigrams})
    if (table) torch::nn::init::uniform_(table->weight, -1.0 / static_cast<double>(options.dim),
                                         1.0 / static_cast<double>(options.dim));
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout));
  classifier = register_module("classifier", torch::nn::Linear(options.dim, options.num_classes));
}

torch::Tensor BagOfEmbeddingsImpl::forward(const data::Batch& batch) {
  TORCH_CHECK(batch.mask.defined(), "BagOfEmbeddings: the batch has no padding mask");
  const auto& ids = batch.inputs;
  auto valid = batch.mask.to(torch::kFloat).unsqueeze(-1);  // [B, L, 1]
  auto sum = (words(ids) * valid).sum(1);
  auto count = valid.sum(1);
  if (bigrams && ids.size(1) > 1) {
    // Bigram (a, b) -> bucket (a * P + b) mod buckets, counted where both tokens are real.
    auto left = ids.slice(1, 0, -1), right = ids.slice(1, 1);
    auto bucket = (left * 1000003 + right).remainder(options.bigram_buckets);
    auto pair_valid = (batch.mask.slice(1, 0, -1) & batch.mask.slice(1, 1)).to(torch::kFloat).unsqueeze(-1);
    sum = sum + (bigrams(bucket) * pair_valid).sum(1);
    count = count + pair_valid.sum(1);
  }
  auto mean = sum / count.clamp_min(1.0);
  return classifier(dropout(mean));
}

ClassifierOutput BagOfEmbeddingsImpl::forward_with_attention(const data::Batch& batch) { return {forward(batch), {}, {}}; }

void BagOfEmbeddingsImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::models::BagOfEmbeddings(vocab=" << options.vocab_size << ", dim=" << options.dim
         << ", bigram_buckets=" << options.bigram_buckets << ", classes=" << options.num_classes << ")";
}

}  // namespace focus::models
