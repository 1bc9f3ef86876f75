#include "focus/data/text_batch_source.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <tuple>

#include "focus/data/tokenizer.h"
#include "focus/util/error.h"

namespace focus::data {

namespace {

int64_t length_of(const EncodedText& t) { return static_cast<int64_t>(t.tokens.size()); }

}  // namespace

std::pair<torch::Tensor, torch::Tensor> pad_flat_tokens(const std::vector<EncodedText>& texts,
                                                        const std::vector<int64_t>& indices) {
  const auto n = static_cast<int64_t>(indices.size());
  int64_t longest = 1;
  for (int64_t i : indices) longest = std::max(longest, length_of(texts[static_cast<size_t>(i)]));
  auto ids_t = torch::full({n, longest}, SpecialTokens::pad, torch::kLong);
  auto mask_t = torch::zeros({n, longest}, torch::kBool);
  auto ids = ids_t.accessor<int64_t, 2>();
  auto mask = mask_t.accessor<bool, 2>();
  for (int64_t r = 0; r < n; ++r) {
    const auto& tokens = texts[static_cast<size_t>(indices[static_cast<size_t>(r)])].tokens;
    for (size_t j = 0; j < tokens.size(); ++j) {
      ids[r][static_cast<int64_t>(j)] = tokens[j].id;
      mask[r][static_cast<int64_t>(j)] = true;
    }
  }
  return {ids_t, mask_t};
}

std::pair<torch::Tensor, torch::Tensor> pad_sentence_tokens(const std::vector<EncodedText>& texts,
                                                            const std::vector<int64_t>& indices) {
  const auto n = static_cast<int64_t>(indices.size());
  int64_t sentences = 1, words = 1;
  for (int64_t i : indices) {
    const auto& t = texts[static_cast<size_t>(i)];
    sentences = std::max<int64_t>(sentences, static_cast<int64_t>(t.sentence_lengths.size()));
    for (int64_t len : t.sentence_lengths) words = std::max(words, len);
  }
  auto ids_t = torch::full({n, sentences, words}, SpecialTokens::pad, torch::kLong);
  auto mask_t = torch::zeros({n, sentences, words}, torch::kBool);
  auto ids = ids_t.accessor<int64_t, 3>();
  auto mask = mask_t.accessor<bool, 3>();
  for (int64_t r = 0; r < n; ++r) {
    const auto& t = texts[static_cast<size_t>(indices[static_cast<size_t>(r)])];
    size_t k = 0;
    for (size_t s = 0; s < t.sentence_lengths.size(); ++s)
      for (int64_t w = 0; w < t.sentence_lengths[s]; ++w, ++k) {
        ids[r][static_cast<int64_t>(s)][w] = t.tokens[k].id;
        mask[r][static_cast<int64_t>(s)][w] = true;
      }
  }
  return {ids_t, mask_t};
}

TextBatchSource::TextBatchSource(std::vector<EncodedText> texts, std::vector<int64_t> labels, TextBatchOptions options)
    : texts_(std::move(texts)), labels_(std::move(labels)), options_(options) {
  if (options_.batch_size < 1) throw Error("batch size must be at least 1, got " + std::to_string(options_.batch_size));
  if (options_.token_dropout < 0 || options_.token_dropout >= 1)
    throw Error("token dropout must be in [0, 1), got " + std::to_string(options_.token_dropout));
  if (!options_.masked_lm && labels_.size() != texts_.size())
    throw Error("text batches: " + std::to_string(texts_.size()) + " texts but " + std::to_string(labels_.size()) +
                " labels");
}

int64_t TextBatchSource::batches() const { return (size() + options_.batch_size - 1) / options_.batch_size; }

std::vector<std::vector<int64_t>> TextBatchSource::plan(uint64_t seed, int64_t epoch) const {
  std::vector<int64_t> order(texts_.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(mix_seed(seed, static_cast<uint64_t>(epoch), 1));
  if (options_.shuffle) std::shuffle(order.begin(), order.end(), rng);
  const auto b = static_cast<size_t>(options_.batch_size);
  if (options_.shuffle && options_.bucket_by_length) {
    // Sort windows of 50 batches by length, so neighbours in a batch are alike
    // while every epoch still mixes differently.
    const size_t window = 50 * b;
    for (size_t start = 0; start < order.size(); start += window) {
      auto first = order.begin() + static_cast<std::ptrdiff_t>(start);
      auto last = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + window));
      std::stable_sort(first, last, [this](int64_t a, int64_t c) {
        return length_of(texts_[static_cast<size_t>(a)]) < length_of(texts_[static_cast<size_t>(c)]);
      });
    }
  }
  std::vector<std::vector<int64_t>> batches;
  for (size_t start = 0; start < order.size(); start += b)
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + b)));
  if (options_.shuffle && options_.bucket_by_length) std::shuffle(batches.begin(), batches.end(), rng);
  if (options_.shard.count > 1)
    for (auto& batch : batches) batch = shard_of(batch, options_.shard);
  return batches;
}

Batch TextBatchSource::make_batch(const std::vector<int64_t>& indices) const {
  const auto n = static_cast<int64_t>(indices.size());
  Batch batch;
  if (options_.layout == TextLayout::flat) {
    std::tie(batch.inputs, batch.mask) = pad_flat_tokens(texts_, indices);
  } else {
    std::tie(batch.inputs, batch.mask) = pad_sentence_tokens(texts_, indices);
  }
  if (!options_.masked_lm) {
    batch.targets = torch::empty({n}, torch::kLong);
    auto targets = batch.targets.accessor<int64_t, 1>();
    for (int64_t r = 0; r < n; ++r) targets[r] = labels_[static_cast<size_t>(indices[static_cast<size_t>(r)])];
  }
  return batch;
}

std::unique_ptr<BatchStream> TextBatchSource::epoch(uint64_t seed, int64_t epoch) const {
  auto make = [this, seed, epoch](int64_t k, const std::vector<int64_t>& indices) {
    Batch batch = make_batch(indices);
    if (options_.masked_lm) {
      auto masked = mask_tokens(batch.inputs, batch.mask, options_.masking,
                                mix_seed(seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(k) + 2));
      batch.inputs = masked.inputs;
      batch.extra[kMlmPositions] = masked.positions;
      batch.targets = masked.targets;
    } else if (options_.token_dropout > 0) {
      MlmMaskingOptions dropout;
      dropout.probability = options_.token_dropout;
      dropout.mask_fraction = 1.0;  // every chosen token becomes [MASK]
      dropout.random_fraction = 0.0;
      batch.inputs = mask_tokens(batch.inputs, batch.mask, dropout,
                                 mix_seed(seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(k) + 2))
                         .inputs;
    }
    return batch;
  };
  return std::make_unique<PlannedStream>(plan(seed, epoch), make);
}

}  // namespace focus::data
