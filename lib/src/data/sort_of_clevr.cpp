#include "focus/data/sort_of_clevr.h"

#include <filesystem>
#include <fstream>
#include <limits>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "focus/util/atomic_file.h"
#include "focus/util/error.h"

namespace focus::data {
namespace fs = std::filesystem;

namespace {

/// Uniform integer in [0, n), by rejection (unbiased and the same on every platform).
int64_t uniform_below(std::mt19937_64& rng, int64_t n) {
  const auto un = static_cast<uint64_t>(n);
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % un;
  uint64_t v;
  do v = rng();
  while (v >= limit);
  return static_cast<int64_t>(v % un);
}

int64_t squared_distance(const SceneObject& a, const SceneObject& b) {
  return (a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y);
}

/// BGR of each colour, in sort_of_clevr_colors() order.
const std::array<cv::Scalar, 6> kBgr = {cv::Scalar(0, 0, 255),   cv::Scalar(0, 200, 0),   cv::Scalar(255, 0, 0),
                                        cv::Scalar(0, 128, 255), cv::Scalar(0, 230, 255), cv::Scalar(128, 128, 128)};

/// The object closest to (or furthest from) `subject`, or -1 when two are tied.
int64_t extreme_object(const std::vector<SceneObject>& scene, int64_t subject, bool closest) {
  int64_t best = -1, best_d = 0;
  bool tied = false;
  for (int64_t i = 0; i < static_cast<int64_t>(scene.size()); ++i) {
    if (i == subject) continue;
    const int64_t d = squared_distance(scene[static_cast<size_t>(i)], scene[static_cast<size_t>(subject)]);
    if (best < 0 || (closest ? d < best_d : d > best_d)) {
      best = i;
      best_d = d;
      tied = false;
    } else if (d == best_d) {
      tied = true;
    }
  }
  return tied ? -1 : best;
}

void check_options(const SortOfClevrOptions& o) {
  if (o.images < 1 || o.test_images < 0 || o.test_images > o.images)
    throw Error("sort-of-clevr: need images >= 1 and 0 <= test images <= images (got " + std::to_string(o.images) +
                " and " + std::to_string(o.test_images) + ")");
  if (o.object_size < 1 || o.object_size > 256 || o.image_size > 4096)
    throw Error("sort-of-clevr: need 1 <= object size <= 256 and image size <= 4096 pixels");
  // Six objects whose centres are 3 * object_size apart must fit comfortably.
  if (o.image_size < 12 * o.object_size)
    throw Error("sort-of-clevr: image size " + std::to_string(o.image_size) + " is too small for object size " +
                std::to_string(o.object_size) + " (need at least 12 times the object size)");
  if (o.non_relational < 0 || o.relational < 0 || o.non_relational + o.relational < 1)
    throw Error("sort-of-clevr: need at least one question per image");
}

util::Json object_json(const SceneObject& o, int64_t s, bool referred) {
  return {{"color", o.color},
          {"shape", o.shape},
          {"center", {o.x, o.y}},
          {"box", {o.x - s, o.y - s, o.x + s, o.y + s}},
          {"referred", referred}};
}

}  // namespace

const std::vector<std::string>& sort_of_clevr_colors() {
  static const std::vector<std::string> colors = {"red", "green", "blue", "orange", "yellow", "gray"};
  return colors;
}

const std::vector<std::string>& sort_of_clevr_answers() {
  static const std::vector<std::string> answers = {"yes", "no", "square", "circle", "1", "2", "3", "4", "5", "6"};
  return answers;
}

std::vector<SceneObject> random_scene(std::mt19937_64& rng, const SortOfClevrOptions& o) {
  check_options(o);
  const int64_t s = o.object_size, span = o.image_size - 2 * s;
  const int64_t min_d2 = 9 * s * s;  // centres 3s apart: squares and circles never touch
  for (;;) {
    std::vector<SceneObject> scene;
    int64_t tries = 0;
    while (scene.size() < sort_of_clevr_colors().size() && tries < 10000) {
      ++tries;
      SceneObject obj;
      obj.x = s + uniform_below(rng, span);
      obj.y = s + uniform_below(rng, span);
      bool free = true;
      for (const auto& other : scene) free = free && squared_distance(obj, other) >= min_d2;
      if (!free) continue;
      obj.color = sort_of_clevr_colors()[scene.size()];
      obj.shape = uniform_below(rng, 2) == 0 ? "square" : "circle";
      scene.push_back(obj);
    }
    if (scene.size() == sort_of_clevr_colors().size()) return scene;
  }
}

std::vector<uint8_t> render_scene(const std::vector<SceneObject>& scene, const SortOfClevrOptions& o) {
  check_options(o);
  const int n = static_cast<int>(o.image_size), s = static_cast<int>(o.object_size);
  cv::Mat image(n, n, CV_8UC3, cv::Scalar(255, 255, 255));
  for (const auto& obj : scene) {
    const auto& colors = sort_of_clevr_colors();
    const auto c = static_cast<size_t>(std::find(colors.begin(), colors.end(), obj.color) - colors.begin());
    const cv::Point centre(static_cast<int>(obj.x), static_cast<int>(obj.y));
    if (obj.shape == "square")
      cv::rectangle(image, centre - cv::Point(s, s), centre + cv::Point(s, s), kBgr.at(c), cv::FILLED, cv::LINE_8);
    else
      cv::circle(image, centre, s, kBgr.at(c), cv::FILLED, cv::LINE_8);
  }
  return {image.data, image.data + image.total() * image.elemSize()};
}

std::vector<Question> ask_questions(const std::vector<SceneObject>& scene, std::mt19937_64& rng,
                                    const SortOfClevrOptions& o) {
  const auto& colors = sort_of_clevr_colors();
  std::vector<Question> out;
  auto yes_no = [](bool b) { return std::string(b ? "yes" : "no"); };
  for (int64_t q = 0; q < o.non_relational; ++q) {
    const int64_t subject = uniform_below(rng, static_cast<int64_t>(colors.size()));
    const auto& obj = scene[static_cast<size_t>(subject)];
    const std::string c = obj.color;
    Question question{{}, {}, "non_relational", {}, {subject}};
    switch (uniform_below(rng, 3)) {
      case 0:
        question.subtype = "shape";
        question.text = "What is the shape of the " + c + " object?";
        question.answer = obj.shape;
        break;
      case 1:
        question.subtype = "horizontal";
        question.text = "Is the " + c + " object on the left?";
        question.answer = yes_no(2 * obj.x < o.image_size);
        break;
      default:
        question.subtype = "vertical";
        question.text = "Is the " + c + " object at the top?";
        question.answer = yes_no(2 * obj.y < o.image_size);
    }
    out.push_back(question);
  }
  for (int64_t q = 0; q < o.relational; ++q) {
    for (;;) {  // draw again when the closest/furthest object is tied
      const int64_t subject = uniform_below(rng, static_cast<int64_t>(colors.size()));
      const auto kind = uniform_below(rng, 3);
      const auto& obj = scene[static_cast<size_t>(subject)];
      Question question{{}, {}, "relational", {}, {subject}};
      if (kind == 2) {
        question.subtype = "count";
        question.text = "How many objects have the same shape as the " + obj.color + " object?";
        int64_t count = 0;
        for (int64_t i = 0; i < static_cast<int64_t>(scene.size()); ++i)
          if (scene[static_cast<size_t>(i)].shape == obj.shape) {
            ++count;
            if (i != subject) question.referred.push_back(i);
          }
        question.answer = std::to_string(count);
      } else {
        const bool closest = kind == 0;
        const int64_t other = extreme_object(scene, subject, closest);
        if (other < 0) continue;
        question.subtype = closest ? "closest" : "furthest";
        question.text = closest ? "What is the shape of the object closest to the " + obj.color + " object?"
                                : "What is the shape of the object furthest from the " + obj.color + " object?";
        question.answer = scene[static_cast<size_t>(other)].shape;
        question.referred.push_back(other);
      }
      out.push_back(question);
      break;
    }
  }
  return out;
}

SortOfClevrSummary write_sort_of_clevr(const SortOfClevrOptions& o) {
  if (o.out.empty()) throw Error("sort-of-clevr: the output directory is empty");
  check_options(o);
  const fs::path root(o.out);
  std::error_code ec;
  for (const char* split : {"train", "test"}) {
    fs::create_directories(root / "images" / split, ec);
    if (ec) throw Error((root / "images" / split).string() + ": cannot create directory: " + ec.message());
  }
  std::mt19937_64 rng(o.seed);
  SortOfClevrSummary summary;
  summary.test_images = o.test_images;
  summary.train_images = o.images - o.test_images;
  std::string manifests[2];  // train, test
  const int n = static_cast<int>(o.image_size);
  for (int64_t i = 0; i < o.images; ++i) {
    const bool test = i >= summary.train_images;
    const int64_t index = test ? i - summary.train_images : i;
    char name[32];
    std::snprintf(name, sizeof name, "%06ld.png", static_cast<long>(index));
    const std::string relative = std::string("images/") + (test ? "test/" : "train/") + name;

    const auto scene = random_scene(rng, o);
    auto pixels = render_scene(scene, o);
    std::vector<uchar> png;
    if (!cv::imencode(".png", cv::Mat(n, n, CV_8UC3, pixels.data()), png, {cv::IMWRITE_PNG_COMPRESSION, 6}))
      throw Error((root / relative).string() + ": PNG encoding failed");
    util::write_file(root / relative, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
    for (const auto& q : ask_questions(scene, rng, o)) {
      util::Json objects = util::Json::array();
      for (size_t k = 0; k < scene.size(); ++k) {
        const bool referred = std::find(q.referred.begin(), q.referred.end(), static_cast<int64_t>(k)) != q.referred.end();
        objects.push_back(object_json(scene[k], o.object_size, referred));
      }
      const util::Json record = {{"image", relative}, {"text", q.text},       {"label", q.answer},
                                 {"type", q.type},    {"subtype", q.subtype}, {"objects", objects}};
      manifests[test ? 1 : 0] += record.dump() + "\n";
      ++(test ? summary.test_questions : summary.train_questions);
    }
  }
  util::write_file_atomic(root / "train.jsonl", manifests[0]);
  util::write_file_atomic(root / "test.jsonl", manifests[1]);
  const util::Json dataset = {
      {"generator", "focus-data sort-of-clevr"},
      {"reference", "Santoro et al. 2017, A simple neural network module for relational reasoning"},
      {"seed", o.seed},
      {"image_size", o.image_size},
      {"object_size", o.object_size},
      {"train", {{"manifest", "train.jsonl"}, {"images", summary.train_images}, {"questions", summary.train_questions}}},
      {"test", {{"manifest", "test.jsonl"}, {"images", summary.test_images}, {"questions", summary.test_questions}}},
      {"colors", sort_of_clevr_colors()},
      {"answers", sort_of_clevr_answers()},
      {"question_types",
       {{"non_relational", {"shape", "horizontal", "vertical"}}, {"relational", {"closest", "furthest", "count"}}}}};
  util::write_file_atomic(root / "dataset.json", dataset.dump(2) + "\n");
  summary.files = {(root / "train.jsonl").string(), (root / "test.jsonl").string(), (root / "dataset.json").string()};
  return summary;
}

}  // namespace focus::data
