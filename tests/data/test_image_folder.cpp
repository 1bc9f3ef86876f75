// Image-folder reader on PNG/JPEG fixtures written with OpenCV.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "focus/data/image_folder.h"
#include "focus/util/error.h"
#include "temp_dir.h"

namespace fs = std::filesystem;

namespace {
void make_image(const fs::path& p, int w, int h, cv::Scalar bgr) {
  fs::create_directories(p.parent_path());
  cv::Mat m(h, w, CV_8UC3, bgr);
  REQUIRE(cv::imwrite(p.string(), m));
}
}  // namespace

TEST_CASE("read_image_folder reads classes in sorted order, resizes and converts", "[data]") {
  focus::testing::TempDir dir;
  make_image(dir / "cat/1.png", 10, 8, {0, 0, 255});  // red in BGR
  make_image(dir / "cat/2.jpg", 12, 12, {0, 0, 255});
  make_image(dir / "ant/1.png", 6, 6, {255, 0, 0});  // blue
  focus::data::ImageFolderOptions o;
  o.channels = 3;
  o.image_size = 4;
  auto set = focus::data::read_image_folder(dir.path().string(), o);
  CHECK((set.class_names == std::vector<std::string>{"ant", "cat"}));
  CHECK(set.images.sizes() == torch::IntArrayRef({3, 4, 4, 3}));
  CHECK(set.labels[0].item<int64_t>() == 0);
  CHECK(set.labels[2].item<int64_t>() == 1);
  // RGB order: the ant image is blue, the cat PNG red.
  CHECK(set.images[0][0][0][2].item<int>() == 255);
  CHECK(set.images[1][0][0][0].item<int>() == 255);
  o.channels = 1;
  auto gray = focus::data::read_image_folder(dir.path().string(), o);
  CHECK(gray.images.size(3) == 1);
}

TEST_CASE("read_image_folder names the bad file or folder", "[data]") {
  focus::testing::TempDir dir;
  make_image(dir / "a/1.png", 4, 4, {1, 2, 3});
  std::ofstream(dir / "a/notes.png") << "this is not an image";
  focus::data::ImageFolderOptions o;
  o.image_size = 4;
  CHECK_THROWS_WITH(focus::data::read_image_folder(dir.path().string(), o),
                    Catch::Contains("notes.png") && Catch::Contains("not a decodable image"));
  fs::remove(dir / "a/notes.png");
  fs::create_directories(dir / "b");
  CHECK_THROWS_WITH(focus::data::read_image_folder(dir.path().string(), o),
                    Catch::Contains("b") && Catch::Contains("class folder is empty"));
  CHECK_THROWS_WITH(focus::data::read_image_folder((dir / "nope").string(), o), Catch::Contains("not a directory"));
  fs::remove_all(dir / "b");
  make_image(dir / "c/1.png", 5, 4, {1, 2, 3});
  o.image_size = 0;
  CHECK_THROWS_WITH(focus::data::read_image_folder(dir.path().string(), o), Catch::Contains("expected 4x4"));
}
