#include "focus/data/image_splits.h"

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>

#include "focus/data/idx_reader.h"
#include "focus/data/image_folder.h"
#include "focus/util/error.h"

namespace focus::data {
namespace fs = std::filesystem;

namespace {

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

ImageSet read_idx_pair(const ImageDataConfig& c, const std::string& images_file, const std::string& labels_file) {
  const std::string ip = (fs::path(c.root) / images_file).string();
  const std::string lp = (fs::path(c.root) / labels_file).string();
  if (!fs::exists(ip)) throw Error(ip + ": IDX image file not found");
  if (!fs::exists(lp)) throw Error(lp + ": IDX label file not found");
  IdxArray images = read_idx(ip);
  IdxArray labels = read_idx(lp);
  if (images.shape.size() != 3 && images.shape.size() != 4)
    throw Error(ip + ": expected an image array [N, H, W] or [N, H, W, C], found " +
                std::to_string(images.shape.size()) + " dimensions");
  if (labels.shape.size() != 1) throw Error(lp + ": expected a label vector [N], found " +
                                            std::to_string(labels.shape.size()) + " dimensions");
  if (labels.shape[0] != images.shape[0])
    throw Error(lp + ": has " + std::to_string(labels.shape[0]) + " labels but " + ip + " has " +
                std::to_string(images.shape[0]) + " images");
  if (images.shape.size() == 4 && images.shape[3] != 1 && images.shape[3] != 3)
    throw Error(ip + ": images have " + std::to_string(images.shape[3]) + " channels, expected 1 or 3");
  ImageSet set;
  set.images = images.shape.size() == 3 ? images.data.unsqueeze(-1).contiguous() : images.data;
  set.labels = labels.data.to(torch::kLong);
  set.source = ip;
  const int64_t max_label = set.labels.numel() ? set.labels.max().item<int64_t>() : 0;
  if (c.class_names.empty()) {
    for (int64_t i = 0; i <= max_label; ++i) set.class_names.push_back(std::to_string(i));
  } else {
    set.class_names = c.class_names;
  }
  check_labels(set.labels, static_cast<int64_t>(set.class_names.size()), lp);
  return set;
}

ImageSet read_folder(const ImageDataConfig& c, const std::string& dir) {
  ImageFolderOptions o;
  o.channels = c.channels;
  o.image_size = c.image_size;
  o.class_names = c.class_names;
  return read_image_folder((fs::path(c.root) / dir).string(), o);
}

}  // namespace

ImageSet load_training_pool(const ImageDataConfig& c) {
  ImageSet pool = c.format == "idx" ? read_idx_pair(c, c.train_images, c.train_labels) : read_folder(c, c.train_dir);
  if (c.limit_train > 0 && c.limit_train < pool.size()) {
    auto order = seeded_permutation(pool.size(), c.split_seed ^ 0x9e3779b97f4a7c15ULL);
    order.resize(static_cast<size_t>(c.limit_train));
    std::sort(order.begin(), order.end());
    pool = pool.subset(order);
  }
  if (pool.size() == 0) throw Error(pool.source + ": the training split is empty");
  return pool;
}

ImageSet load_test_set(const ImageDataConfig& c) {
  ImageSet test = c.format == "idx" ? read_idx_pair(c, c.test_images, c.test_labels) : read_folder(c, c.test_dir);
  if (c.limit_test > 0 && c.limit_test < test.size()) {
    std::vector<int64_t> first(static_cast<size_t>(c.limit_test));
    std::iota(first.begin(), first.end(), 0);
    test = test.subset(first);
  }
  return test;
}

std::pair<ImageSet, ImageSet> split_train_val(const ImageSet& pool, const ImageDataConfig& c) {
  const auto n_val = static_cast<int64_t>(static_cast<double>(pool.size()) * c.val_fraction);
  auto order = seeded_permutation(pool.size(), c.split_seed);
  std::vector<int64_t> val(order.begin(), order.begin() + n_val);
  std::vector<int64_t> train(order.begin() + n_val, order.end());
  std::sort(val.begin(), val.end());
  std::sort(train.begin(), train.end());
  if (train.empty()) throw Error(pool.source + ": no training images left after the validation split");
  return {pool.subset(train), n_val > 0 ? pool.subset(val) : ImageSet{torch::empty({0, pool.height(), pool.width(),
                                                                                    pool.channels()}, torch::kUInt8),
                                                                       torch::empty({0}, torch::kLong),
                                                                       pool.class_names, pool.source}};
}

ImageSet load_split(const ImageDataConfig& c, const std::string& split) {
  if (split == "test") return load_test_set(c);
  if (split == "train" || split == "val") {
    auto [train, val] = split_train_val(load_training_pool(c), c);
    return split == "train" ? train : val;
  }
  throw Error("unknown split '" + split + "': expected train, val or test");
}

}  // namespace focus::data
