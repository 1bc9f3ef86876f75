#include "focus/data/image_folder.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "focus/util/error.h"
#include "image_decode.h"

namespace focus::data {
namespace fs = std::filesystem;

namespace {
cv::Mat decode(const fs::path& file, const ImageFolderOptions& options) {
  return decode_image(file.string(), options.channels, options.image_size);
}
}  // namespace

ImageSet read_image_folder(const std::string& root, const ImageFolderOptions& options) {
  if (options.channels != 1 && options.channels != 3)
    throw Error("image folder " + root + ": channels must be 1 or 3, got " + std::to_string(options.channels));
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error("image folder " + root + ": not a directory");

  std::vector<std::string> classes;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name[0] != '.') classes.push_back(name);
  }
  std::sort(classes.begin(), classes.end());
  if (classes.empty()) throw Error("image folder " + root + ": no class sub-directories (expected root/<class>/*.png)");
  if (!options.class_names.empty()) {
    std::vector<std::string> expected = options.class_names;
    std::vector<std::string> sorted = expected;
    std::sort(sorted.begin(), sorted.end());
    if (sorted != classes) {
      std::string found;
      for (const auto& c : classes) found += (found.empty() ? "" : ", ") + c;
      throw Error("image folder " + root + ": class folders {" + found + "} do not match the recipe's class_names");
    }
    classes = expected;
  }

  std::vector<std::pair<fs::path, int64_t>> files;
  for (size_t c = 0; c < classes.size(); ++c) {
    const fs::path dir = fs::path(root) / classes[c];
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') found.push_back(entry.path());
    }
    if (found.empty()) throw Error("image folder " + dir.string() + ": class folder is empty");
    std::sort(found.begin(), found.end());
    for (auto& f : found) files.emplace_back(std::move(f), static_cast<int64_t>(c));
  }

  cv::Mat first = decode(files.front().first, options);
  const int h = first.rows, w = first.cols, ch = options.channels;
  ImageSet set;
  set.images = torch::empty({static_cast<int64_t>(files.size()), h, w, ch}, torch::kUInt8);
  set.labels = torch::empty({static_cast<int64_t>(files.size())}, torch::kLong);
  auto* dst = set.images.data_ptr<uint8_t>();
  auto* lab = set.labels.data_ptr<int64_t>();
  const size_t image_bytes = static_cast<size_t>(h) * w * ch;
  for (size_t i = 0; i < files.size(); ++i) {
    cv::Mat image = i == 0 ? first : decode(files[i].first, options);
    if (image.rows != h || image.cols != w)
      throw Error(files[i].first.string() + ": image is " + std::to_string(image.cols) + "x" +
                  std::to_string(image.rows) + ", expected " + std::to_string(w) + "x" + std::to_string(h) +
                  " like the first image (set data.image_size to resize)");
    if (!image.isContinuous()) image = image.clone();
    std::memcpy(dst + i * image_bytes, image.data, image_bytes);
    lab[i] = files[i].second;
  }
  set.class_names = classes;
  set.source = root;
  return set;
}

}  // namespace focus::data
