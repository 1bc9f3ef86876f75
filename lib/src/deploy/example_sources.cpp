#include "focus/deploy/example_sources.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "focus/util/atomic_file.h"
#include "focus/util/error.h"
#include "focus/util/json_reader.h"

namespace focus::deploy {

namespace fs = std::filesystem;

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> extensions = {".png", ".jpg", ".jpeg", ".bmp", ".webp",
                                                      ".pgm", ".ppm", ".pbm", ".pnm"};
  return extensions;
}

namespace {

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto& known = image_extensions();
  return std::find(known.begin(), known.end(), ext) != known.end();
}

void add_images(const std::string& path, std::vector<RawExample>& out) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(path))
      if (entry.is_regular_file() && is_image_file(entry.path())) files.push_back(entry.path());
    if (files.empty()) throw Error(path + ": the directory holds no image files");
    std::sort(files.begin(), files.end());
    for (const auto& f : files) out.push_back({f.string(), "", "", f.string()});
  } else if (fs::is_regular_file(path, ec)) {
    out.push_back({path, "", "", path});
  } else {
    throw Error(path + ": no such file or directory");
  }
}

void add_text_lines(const std::string& file, std::vector<RawExample>& out) {
  std::ifstream stream;
  std::istream* in = &std::cin;
  if (file != "-") {
    stream.open(file);
    if (!stream) throw Error(file + ": cannot open");
    in = &stream;
  }
  std::string line;
  for (int64_t number = 1; std::getline(*in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    out.push_back({(file == "-" ? std::string("stdin") : file) + ":" + std::to_string(number), "", line, ""});
  }
}

void add_jsonl(const std::string& file, const ExampleSourceOptions& o, bool wants_text, bool wants_image,
               std::vector<RawExample>& out) {
  std::ifstream in(file);
  if (!in) throw Error(file + ": cannot open");
  const fs::path base = fs::path(file).parent_path();
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = file + ":" + std::to_string(number);
    const util::Json record = util::parse_json_text(line, where);
    if (!record.is_object()) throw Error(where + ": expected a JSON object, found " + util::json_type_name(record));
    RawExample e;
    e.name = where;
    auto field = [&](const std::string& key) {
      auto it = record.find(key);
      if (it == record.end()) throw Error(where + ": missing field '" + key + "'");
      if (!it->is_string()) throw Error(where + ": field '" + key + "' must be a string, found " + util::json_type_name(*it));
      return it->get<std::string>();
    };
    if (wants_text) e.text = field(o.text_field);
    if (wants_image) {
      const fs::path image = base / field(o.image_field);
      std::error_code ec;
      if (!fs::is_regular_file(image, ec)) throw Error(where + ": image " + image.string() + " does not exist");
      e.image_path = image.string();
      e.name = image.string();
    }
    out.push_back(std::move(e));
  }
}

}  // namespace

std::vector<RawExample> gather_examples(const ExampleSourceOptions& o, models::InputKind input) {
  const bool wants_image = input == models::InputKind::images || input == models::InputKind::image_text;
  const bool wants_text = input != models::InputKind::images;
  std::vector<RawExample> images, texts, out;
  for (const auto& p : o.paths) add_images(p, images);
  for (const auto& t : o.texts) texts.push_back({"text " + std::to_string(texts.size() + 1), "", t, ""});
  for (const auto& f : o.text_files) add_text_lines(f, texts);
  if (!wants_image && !images.empty())
    throw Error("the model reads text, not images: give texts (--text, --text-file or --jsonl)");
  if (!wants_text && !texts.empty()) throw Error("the model reads images, not text: give image files or directories");
  if (input == models::InputKind::image_text) {
    if (images.size() != texts.size())
      throw Error("an image + text model needs one text per image: " + std::to_string(images.size()) + " images and " +
                  std::to_string(texts.size()) + " texts (or use --jsonl with image and text fields)");
    for (size_t i = 0; i < images.size(); ++i)
      out.push_back({images[i].name + " | " + texts[i].text, "", std::move(texts[i].text), images[i].image_path});
  } else {
    out = wants_image ? std::move(images) : std::move(texts);
  }
  for (const auto& f : o.jsonl_files) add_jsonl(f, o, wants_text, wants_image, out);
  if (out.empty()) throw Error("no inputs: give image files or directories, --text, --text-file or --jsonl");
  return out;
}

}  // namespace focus::deploy
