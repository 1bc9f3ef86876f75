#include "focus/data/multimodal_batch_source.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

#include "focus/data/text_batch_source.h"
#include "focus/util/error.h"

namespace focus::data {

namespace {
AugmentConfig no_augmentation() {
  AugmentConfig a;
  a.enabled = false;  // answers may depend on positions (left/right), so images are never flipped or moved
  return a;
}
}  // namespace

MultimodalBatchSource::MultimodalBatchSource(torch::Tensor images, Normalization normalization,
                                             std::vector<EncodedText> texts, std::vector<int64_t> image_of,
                                             std::vector<int64_t> labels, MultimodalBatchOptions options)
    : images_(images.defined() ? images.to(torch::kCPU).contiguous() : images),
      transform_(std::move(normalization), no_augmentation()),
      texts_(std::move(texts)),
      image_of_(std::move(image_of)),
      labels_(std::move(labels)),
      options_(options) {
  if (options_.batch_size < 1) throw Error("batch size must be at least 1, got " + std::to_string(options_.batch_size));
  if (options_.group_size < 0) throw Error("group size must be >= 0, got " + std::to_string(options_.group_size));
  if (image_of_.size() != texts_.size() || labels_.size() != texts_.size())
    throw Error("image + text batches: " + std::to_string(texts_.size()) + " texts, " +
                std::to_string(image_of_.size()) + " image indices and " + std::to_string(labels_.size()) + " labels");
  if (!texts_.empty() && (!images_.defined() || images_.dim() != 4 || images_.scalar_type() != torch::kUInt8))
    throw Error("image + text batches: images must be uint8 [N, H, W, C]");
  for (int64_t i : image_of_)
    if (i < 0 || i >= images_.size(0)) throw Error("image + text batches: image index " + std::to_string(i) + " out of range");
  if (!options_.first_epoch.empty() && options_.first_epoch.size() != texts_.size())
    throw Error("image + text batches: " + std::to_string(options_.first_epoch.size()) + " first epochs for " +
                std::to_string(texts_.size()) + " examples");
}

bool MultimodalBatchSource::available(size_t example, int64_t epoch) const {
  return options_.first_epoch.empty() || options_.first_epoch[example] <= epoch;
}

int64_t MultimodalBatchSource::batches() const { return (size() + options_.batch_size - 1) / options_.batch_size; }

std::vector<std::vector<int64_t>> MultimodalBatchSource::plan(uint64_t seed, int64_t epoch) const {
  std::vector<int64_t> order;
  order.reserve(texts_.size());
  if (options_.shuffle) {
    std::mt19937_64 rng(mix_seed(seed, static_cast<uint64_t>(epoch), 3));
    std::vector<std::vector<int64_t>> by_image(static_cast<size_t>(images_.size(0)));
    for (size_t i = 0; i < image_of_.size(); ++i)
      if (available(i, epoch)) by_image[static_cast<size_t>(image_of_[i])].push_back(static_cast<int64_t>(i));
    // Whole passes over the available examples (one pass when all are), the last one cut to size().
    while (static_cast<int64_t>(order.size()) < size()) {
      std::vector<std::vector<int64_t>> groups;
      for (auto& examples : by_image) {
        std::shuffle(examples.begin(), examples.end(), rng);
        const size_t g = options_.group_size > 0 ? static_cast<size_t>(options_.group_size) : std::max<size_t>(1, examples.size());
        for (size_t start = 0; start < examples.size(); start += g)
          groups.emplace_back(examples.begin() + static_cast<std::ptrdiff_t>(start),
                              examples.begin() + static_cast<std::ptrdiff_t>(std::min(examples.size(), start + g)));
      }
      if (groups.empty())
        throw Error("image + text batches: no example is available in epoch " + std::to_string(epoch));
      std::shuffle(groups.begin(), groups.end(), rng);
      for (const auto& group : groups) order.insert(order.end(), group.begin(), group.end());
    }
    order.resize(texts_.size());
  } else {
    order.resize(texts_.size());
    std::iota(order.begin(), order.end(), 0);
  }
  const auto b = static_cast<size_t>(options_.batch_size);
  std::vector<std::vector<int64_t>> batches;
  for (size_t start = 0; start < order.size(); start += b)
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + b)));
  if (options_.shard.count > 1)
    for (auto& batch : batches) batch = shard_of(batch, options_.shard);
  return batches;
}

Batch MultimodalBatchSource::make_batch(const std::vector<int64_t>& indices) const {
  const auto n = static_cast<int64_t>(indices.size());
  Batch batch;
  std::tie(batch.inputs, batch.mask) = pad_flat_tokens(texts_, indices);
  batch.targets = torch::empty({n}, torch::kLong);
  auto index_t = torch::empty({n}, torch::kLong);
  auto index = index_t.accessor<int64_t, 1>();
  auto targets = batch.targets.accessor<int64_t, 1>();
  std::map<int64_t, int64_t> row_of;  // image -> row in the batch
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < n; ++r) {
    const auto example = static_cast<size_t>(indices[static_cast<size_t>(r)]);
    auto [it, inserted] = row_of.emplace(image_of_[example], static_cast<int64_t>(rows.size()));
    if (inserted) rows.push_back(image_of_[example]);
    index[r] = it->second;
    targets[r] = labels_[example];
  }
  const int64_t h = images_.size(1), w = images_.size(2), c = images_.size(3);
  auto images = torch::empty({static_cast<int64_t>(rows.size()), c, h, w}, torch::kFloat);
  const auto* src = images_.data_ptr<uint8_t>();
  auto* dst = images.data_ptr<float>();
  std::mt19937_64 unused_rng(0);  // no augmentation: the transform only normalises
  for (size_t i = 0; i < rows.size(); ++i)
    transform_.apply(src + rows[i] * h * w * c, h, w, c, unused_rng, dst + static_cast<int64_t>(i) * c * h * w);
  batch.extra[kBatchImages] = images;
  batch.extra[kBatchImageIndex] = index_t;
  return batch;
}

std::unique_ptr<BatchStream> MultimodalBatchSource::epoch(uint64_t seed, int64_t epoch) const {
  return std::make_unique<PlannedStream>(plan(seed, epoch),
                                         [this](int64_t, const std::vector<int64_t>& indices) { return make_batch(indices); });
}

}  // namespace focus::data
