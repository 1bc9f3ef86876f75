// Image-folder reader on PNG/JPEG fixtures written with OpenCV.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "focus/data/image_folder.h"
#include "../lib/src/data/image_decode.h"
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

namespace {
/// A PNG signature and IHDR chunk declaring width x height, with no image data.
std::string png_header(uint32_t width, uint32_t height) {
  std::string s("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
  for (uint32_t v : {width, height})
    for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  s += std::string("\x08\x02\0\0\0\0\0\0\0", 9);
  return s;
}
}  // namespace

TEST_CASE("image decoding refuses headers that declare too many pixels", "[data]") {
  using focus::data::declared_pixels;
  CHECK(declared_pixels(png_header(6, 5)) == 30);
  // Two 32-bit fields: the product saturates instead of overflowing (found by tests/fuzz/fuzz_image).
  CHECK(declared_pixels(png_header(0xFFFFFFFFu, 0xFFFFFFFFu)) == INT64_MAX);
  CHECK(declared_pixels("GIF89a") == -1);
  CHECK(declared_pixels(std::string("\xFF\xD8\xFF", 3)) == -1);  // JPEG cut before its frame header
  // JPEG: APP0 segment, fill bytes, then SOF0 with height 300 and width 200.
  const std::string jpeg("\xFF\xD8\xFF\xE0\0\x04" "ab" "\xFF\xFF\xFF\xC0\0\x11\x08\x01\x2C\0\xC8", 19);
  CHECK(declared_pixels(jpeg) == 60000);
  // BMP with the 40-byte info header, height negative (top-down rows).
  std::string bmp("BM", 2);
  bmp.resize(26, '\0');
  bmp[14] = 40;
  bmp[18] = 100;                                    // width 100
  bmp[22] = static_cast<char>(0x9C), bmp[23] = bmp[24] = bmp[25] = static_cast<char>(0xFF);  // height -100
  CHECK(declared_pixels(bmp) == 10000);

  focus::testing::TempDir dir;
  fs::create_directories(dir / "a");
  std::ofstream(dir / "a/bomb.png", std::ios::binary) << png_header(20000, 20000);
  CHECK_THROWS_WITH(focus::data::read_image_folder(dir.path().string()),
                    Catch::Contains("bomb.png") && Catch::Contains("declares 400000000 pixels"));
  // PNM: sizes in ASCII after comments; 10000 x 10000 is refused before OpenCV allocates it.
  CHECK(declared_pixels("P5 # a comment\n 640\t480\n255\n") == 307200);
  CHECK(declared_pixels("P6\n99999999999999999999 2\n") == INT64_MAX);
  const std::string pgm = "P5\n10000 10000\n255\n" + std::string(64, '\x7f');
  CHECK_THROWS_WITH(focus::data::decode_image_bytes(pgm, "big.pgm", cv::IMREAD_GRAYSCALE),
                    Catch::Contains("big.pgm") && Catch::Contains("declares 100000000 pixels"));
  // WebP: lossy (VP8), lossless (VP8L) and extended (VP8X) headers.
  auto webp = [](const std::string& chunk, const std::string& payload) {
    std::string b = "RIFF" + std::string(4, '\0') + "WEBP" + chunk + std::string(4, '\0') + payload;
    b.resize(40, '\0');
    return b;
  };
  CHECK(declared_pixels(webp("VP8 ", std::string("\0\0\0\x9D\x01\x2A\x40\x01\xF0\x00", 10))) == 320 * 240);
  CHECK(declared_pixels(webp("VP8L", std::string("\x2F\x3F\xC0\x3B\x00", 5))) == 64 * 240);  // 63 | 239 << 14
  CHECK(declared_pixels(webp("VP8X", std::string("\0\0\0\0\xFF\xFF\x00\xFF\xFF\x00", 10))) == 65536LL * 65536);
  // Formats whose size Focus cannot check are refused (OpenCV's own limit is 16x larger and fixed
  // when its library loads): TIFF, GIF, a JPEG without a frame header.
  CHECK_THROWS_WITH(focus::data::decode_image_bytes(std::string("II*\0\x08\0\0\0", 8), "a.tif", cv::IMREAD_COLOR),
                    Catch::Contains("a.tif: not a decodable image (not PNG, JPEG, BMP, WebP or PNM data"));
  // JPEG with stray bytes between segments (libjpeg skips them, so must the check).
  CHECK(declared_pixels(std::string("\xFF\xD8\xFF\xE0\0\x02" "junk" "\xFF\xC0\0\x11\x08\x01\x2C\0\xC8", 19)) == 60000);
  const std::string small = "P5\n4 2\n255\n" + std::string(8, '\x7f');
  CHECK(focus::data::decode_image_bytes(small, "small.pgm", cv::IMREAD_GRAYSCALE).cols == 4);
}
