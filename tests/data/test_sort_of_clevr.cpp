// The Sort-of-CLEVR generator: determinism, answers recomputed independently
// from the stored object lists, geometry and rendering.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>

#include <opencv2/imgcodecs.hpp>

#include "focus/data/sort_of_clevr.h"
#include "focus/util/atomic_file.h"
#include "focus/util/json_reader.h"
#include "temp_dir.h"

using namespace focus::data;
using focus::testing::TempDir;
namespace fs = std::filesystem;

namespace {

SortOfClevrOptions small(const fs::path& out, uint64_t seed = 7) {
  SortOfClevrOptions o;
  o.out = out.string();
  o.images = 40;
  o.test_images = 8;
  o.seed = seed;
  return o;
}

/// Every regular file under `root`, by relative path, with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = focus::util::read_file(e.path());
  return files;
}

std::vector<focus::util::Json> records(const fs::path& manifest) {
  std::vector<focus::util::Json> out;
  std::ifstream in(manifest);
  for (std::string line; std::getline(in, line);) out.push_back(focus::util::Json::parse(line));
  return out;
}

/// The answer to a question, recomputed from the text and the object list
/// alone (written independently of the generator).
std::string recompute(const focus::util::Json& r, int64_t image_size) {
  const std::string text = r["text"];
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex("the (red|green|blue|orange|yellow|gray) object")));
  const std::string color = m[1];
  const auto& objects = r["objects"];
  size_t subject = objects.size();
  for (size_t i = 0; i < objects.size(); ++i)
    if (objects[i]["color"] == color) subject = i;
  REQUIRE(subject < objects.size());
  const auto& s = objects[subject];
  const double sx = s["center"][0], sy = s["center"][1];
  if (text.rfind("What is the shape of the " + color, 0) == 0) return s["shape"];
  if (text.find("on the left") != std::string::npos) return sx < image_size / 2.0 ? "yes" : "no";
  if (text.find("at the top") != std::string::npos) return sy < image_size / 2.0 ? "yes" : "no";
  if (text.rfind("How many objects have the same shape", 0) == 0) {
    int n = 0;
    for (const auto& o : objects) n += o["shape"] == s["shape"] ? 1 : 0;
    return std::to_string(n);
  }
  const bool closest = text.find("closest") != std::string::npos;
  REQUIRE((closest || text.find("furthest") != std::string::npos));
  double best = closest ? 1e18 : -1;
  std::string shape;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (i == subject) continue;
    const double dx = double(objects[i]["center"][0]) - sx, dy = double(objects[i]["center"][1]) - sy;
    const double d = dx * dx + dy * dy;
    if (closest ? d < best : d > best) {
      best = d;
      shape = objects[i]["shape"];
    }
  }
  return shape;
}

}  // namespace

TEST_CASE("Sort-of-CLEVR: the same seed gives the same files byte for byte", "[data][clevr]") {
  TempDir a, b, c;
  const auto summary = write_sort_of_clevr(small(a.path()));
  write_sort_of_clevr(small(b.path()));
  write_sort_of_clevr(small(c.path(), 8));
  CHECK(summary.train_images == 32);
  CHECK(summary.test_images == 8);
  CHECK(summary.train_questions == 32 * 20);
  CHECK(summary.test_questions == 8 * 20);
  const auto fa = snapshot(a.path()), fb = snapshot(b.path()), fc = snapshot(c.path());
  CHECK(fa.size() == 40 + 3);  // images, two manifests, dataset.json
  CHECK(fa == fb);
  CHECK(fa.at("train.jsonl") != fc.at("train.jsonl"));
}

TEST_CASE("Sort-of-CLEVR: every stored answer agrees with one recomputed from the objects", "[data][clevr]") {
  TempDir dir;
  auto o = small(dir.path());
  o.images = 60;
  write_sort_of_clevr(o);
  std::map<std::string, int> subtypes;
  std::set<std::string> answers;
  for (const char* split : {"train.jsonl", "test.jsonl"}) {
    for (const auto& r : records(dir / split)) {
      INFO(r["text"].get<std::string>());
      CHECK(recompute(r, o.image_size) == r["label"].get<std::string>());
      ++subtypes[r["subtype"]];
      answers.insert(r["label"]);
      const std::string type = r["type"];
      const bool relational = r["subtype"] == "closest" || r["subtype"] == "furthest" || r["subtype"] == "count";
      CHECK(type == (relational ? "relational" : "non_relational"));
      // The subject (named by colour) is marked as referred.
      for (const auto& obj : r["objects"])
        if (r["text"].get<std::string>().find("the " + obj["color"].get<std::string>() + " object") != std::string::npos)
          CHECK(obj["referred"] == true);
    }
  }
  CHECK(subtypes.size() == 6);
  for (const auto& a : answers) CHECK(std::count(sort_of_clevr_answers().begin(), sort_of_clevr_answers().end(), a) == 1);
}

TEST_CASE("Sort-of-CLEVR: six distinct colours, inside the image, apart, drawn where the manifest says", "[data][clevr]") {
  TempDir dir;
  const auto o = small(dir.path());
  write_sort_of_clevr(o);
  const auto recs = records(dir / "train.jsonl");
  REQUIRE(recs.size() == 32 * 20);
  // Colours as drawn (BGR), in sort_of_clevr_colors() order.
  const std::map<std::string, cv::Vec3b> bgr = {{"red", {0, 0, 255}},      {"green", {0, 200, 0}},
                                                {"blue", {255, 0, 0}},     {"orange", {0, 128, 255}},
                                                {"yellow", {0, 230, 255}}, {"gray", {128, 128, 128}}};
  for (size_t k = 0; k < recs.size(); k += 20) {  // one record per image
    const auto& objects = recs[k]["objects"];
    REQUIRE(objects.size() == 6);
    std::set<std::string> colors;
    const cv::Mat image = cv::imread((dir / recs[k]["image"].get<std::string>()).string(), cv::IMREAD_COLOR);
    REQUIRE(image.rows == 75);
    REQUIRE(image.cols == 75);
    for (size_t i = 0; i < objects.size(); ++i) {
      const auto& obj = objects[i];
      colors.insert(obj["color"]);
      const int x = obj["center"][0], y = obj["center"][1];
      const auto& box = obj["box"];
      CHECK(box[0] >= 0);
      CHECK(box[1] >= 0);
      CHECK(box[2] <= 74);
      CHECK(box[3] <= 74);
      CHECK(image.at<cv::Vec3b>(y, x) == bgr.at(obj["color"]));
      // A square fills its box corner; a circle leaves it white.
      const auto corner = image.at<cv::Vec3b>(box[1].get<int>(), box[0].get<int>());
      CHECK((corner == bgr.at(obj["color"])) == (obj["shape"] == "square"));
      for (size_t j = i + 1; j < objects.size(); ++j) {
        const int dx = x - objects[j]["center"][0].get<int>(), dy = y - objects[j]["center"][1].get<int>();
        CHECK(dx * dx + dy * dy >= 15 * 15);
      }
    }
    CHECK(colors.size() == 6);
  }
}

TEST_CASE("Sort-of-CLEVR: bad options are errors", "[data][clevr]") {
  TempDir dir;
  auto o = small(dir.path());
  o.test_images = 50;
  CHECK_THROWS_WITH(write_sort_of_clevr(o), Catch::Contains("test images"));
  o = small(dir.path());
  o.image_size = 30;
  CHECK_THROWS_WITH(write_sort_of_clevr(o), Catch::Contains("too small"));
  o = small(dir.path());
  o.non_relational = o.relational = 0;
  CHECK_THROWS_WITH(write_sort_of_clevr(o), Catch::Contains("at least one question"));
}
