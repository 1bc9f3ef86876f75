#include "focus/data/multimodal_manifest.h"

#include <cstring>
#include <filesystem>
#include <map>

#include "image_decode.h"
#include "focus/util/atomic_file.h"
#include "focus/util/error.h"
#include "focus/util/json_reader.h"

namespace focus::data {
namespace fs = std::filesystem;

namespace {

std::string where(const std::string& origin, int64_t line) { return origin + ":" + std::to_string(line); }

/// A string field (integers allowed when `integers`), or throws naming the line.
std::string field(const util::Json& record, const std::string& key, bool integers, const std::string& at) {
  auto it = record.find(key);
  if (it == record.end()) {
    std::string keys;
    for (const auto& [k, v] : record.items()) keys += (keys.empty() ? "" : ", ") + k;
    throw Error(at + ": missing field '" + key + "' (the record has: " + keys + ")");
  }
  if (it->is_string()) return it->get<std::string>();
  if (integers && it->is_number_integer()) return std::to_string(it->get<int64_t>());
  throw Error(at + ": field '" + key + "' must be a string" + (integers ? " or an integer" : "") + ", found " +
              util::json_type_name(*it));
}

}  // namespace

std::vector<ManifestExample> parse_manifest(std::string_view content, const std::string& origin,
                                            const ManifestReadOptions& options) {
  if (options.image_field.empty() || options.text_field.empty())
    throw Error(origin + ": the image and text fields must be named");
  std::vector<ManifestExample> out;
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string_view::npos) end = content.size();
    std::string_view line = content.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string at = where(origin, line_no);
    util::Json record;
    try {
      record = util::Json::parse(line.begin(), line.end());
    } catch (const util::Json::exception& e) {  // parse errors, and numbers too large for a double (found by tests/fuzz)
      throw Error(at + ": not valid JSON: " + e.what());
    }
    if (!record.is_object()) throw Error(at + ": expected a JSON object, found " + util::json_type_name(record));
    ManifestExample ex;
    ex.line = line_no;
    ex.image = field(record, options.image_field, false, at);
    if (ex.image.empty()) throw Error(at + ": field '" + options.image_field + "' is empty");
    ex.text = field(record, options.text_field, false, at);
    if (!options.label_field.empty()) {
      ex.label = field(record, options.label_field, true, at);
      if (ex.label.empty()) throw Error(at + ": field '" + options.label_field + "' is empty");
    }
    if (!options.group_field.empty()) ex.group = field(record, options.group_field, true, at);
    out.push_back(std::move(ex));
  }
  return out;
}

std::vector<ManifestExample> read_manifest(const std::string& path, const ManifestReadOptions& options) {
  return parse_manifest(util::read_file(path), path, options);
}

ManifestImages load_manifest_images(const std::vector<ManifestExample>& examples, const std::string& manifest_path,
                                    int channels, int image_size) {
  if (channels != 1 && channels != 3) throw Error(manifest_path + ": channels must be 1 or 3");
  const fs::path base = fs::path(manifest_path).parent_path();
  ManifestImages out;
  std::map<std::string, int64_t> row_of;
  std::vector<const ManifestExample*> first_use;
  out.image_of.reserve(examples.size());
  for (const auto& ex : examples) {
    auto [it, inserted] = row_of.emplace(ex.image, static_cast<int64_t>(first_use.size()));
    if (inserted) first_use.push_back(&ex);
    out.image_of.push_back(it->second);
  }
  if (first_use.empty()) return out;
  int64_t h = 0, w = 0;
  size_t bytes = 0;
  uint8_t* dst = nullptr;
  for (size_t i = 0; i < first_use.size(); ++i) {
    const auto& ex = *first_use[i];
    const fs::path p(ex.image);
    const std::string file = (p.is_absolute() ? p : base / p).lexically_normal().string();
    const std::string at = where(manifest_path, ex.line);
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) throw Error(at + ": image '" + ex.image + "' does not exist (" + file + ")");
    cv::Mat image;
    try {
      image = decode_image(file, channels, image_size);
    } catch (const Error& e) {
      throw Error(at + ": image '" + ex.image + "': " + e.what());
    }
    if (i == 0) {
      h = image.rows;
      w = image.cols;
      bytes = static_cast<size_t>(h * w * channels);
      out.images = torch::empty({static_cast<int64_t>(first_use.size()), h, w, channels}, torch::kUInt8);
      dst = out.images.data_ptr<uint8_t>();
    } else if (image.rows != h || image.cols != w) {
      throw Error(at + ": image '" + ex.image + "' is " + std::to_string(image.cols) + "x" + std::to_string(image.rows) +
                  ", expected " + std::to_string(w) + "x" + std::to_string(h) +
                  " like the first image (set data.image_size to resize)");
    }
    std::memcpy(dst + i * bytes, image.data, bytes);
    out.paths.push_back(file);
  }
  return out;
}

}  // namespace focus::data
