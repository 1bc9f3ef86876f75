// IDX reader on fixtures written by the test: raw, gzipped, truncated, malformed.
#include <catch2/catch.hpp>
#include <torch/torch.h>
#include <zlib.h>

#include <fstream>

#include "focus/data/idx_reader.h"
#include "focus/data/image_data_config.h"
#include "focus/data/image_splits.h"
#include "focus/util/error.h"
#include "temp_dir.h"

namespace {
std::string idx_bytes(const std::vector<uint32_t>& shape, const std::vector<uint8_t>& data) {
  std::string s = {0, 0, 0x08, static_cast<char>(shape.size())};
  for (uint32_t d : shape)
    for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((d >> (8 * i)) & 0xff));
  s.append(data.begin(), data.end());
  return s;
}
void write(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}
void write_gz(const std::filesystem::path& p, const std::string& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}
}  // namespace

TEST_CASE("read_idx reads raw and gzipped files", "[data]") {
  focus::testing::TempDir dir;
  std::vector<uint8_t> pixels(2 * 3 * 4);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
  const auto bytes = idx_bytes({2, 3, 4}, pixels);
  write(dir / "raw.idx", bytes);
  write_gz(dir / "gz.idx.gz", bytes);
  for (const char* name : {"raw.idx", "gz.idx.gz"}) {
    auto a = focus::data::read_idx((dir / name).string());
    CHECK((a.shape == std::vector<int64_t>{2, 3, 4}));
    CHECK(a.data[1][2][3].item<int>() == pixels[23]);
    CHECK(a.data[0][1][0].item<int>() == pixels[4]);
  }
}

TEST_CASE("parse_idx reads bytes in memory, including empty arrays", "[data]") {
  // Found by tests/fuzz/fuzz_idx: an array with a zero dimension copied from a null pointer.
  const auto empty = focus::data::parse_idx(idx_bytes({0, 5}, {}), "mem");
  CHECK((empty.shape == std::vector<int64_t>{0, 5}));
  CHECK(empty.data.numel() == 0);
  const auto one = focus::data::parse_idx(idx_bytes({3}, {1, 2, 3}), "mem");
  CHECK(one.data[2].item<int>() == 3);
  CHECK_THROWS_WITH(focus::data::parse_idx(idx_bytes({3}, {1, 2}), "upload"), Catch::Contains("upload: truncated IDX data"));
}

TEST_CASE("read_idx rejects truncated, gzip-truncated and malformed files", "[data]") {
  focus::testing::TempDir dir;
  auto bytes = idx_bytes({10, 2, 2}, std::vector<uint8_t>(40, 1));
  write(dir / "short.idx", bytes.substr(0, bytes.size() - 5));
  CHECK_THROWS_WITH(focus::data::read_idx((dir / "short.idx").string()),
                    Catch::Contains("short.idx") && Catch::Contains("truncated IDX data") &&
                        Catch::Contains("expected 40 bytes"));
  write_gz(dir / "full.gz", bytes);
  std::ifstream in(dir / "full.gz", std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), {});
  write(dir / "cut.gz", gz.substr(0, gz.size() / 2));
  CHECK_THROWS_WITH(focus::data::read_idx((dir / "cut.gz").string()), Catch::Contains("cut.gz"));
  write(dir / "text.idx", "hello world");
  CHECK_THROWS_WITH(focus::data::read_idx((dir / "text.idx").string()), Catch::Contains("not an IDX file"));
  write(dir / "float.idx", std::string{0, 0, 0x0D, 1, 0, 0, 0, 0});
  CHECK_THROWS_WITH(focus::data::read_idx((dir / "float.idx").string()), Catch::Contains("element type"));
  CHECK_THROWS_WITH(focus::data::read_idx((dir / "missing.idx").string()), Catch::Contains("missing.idx"));
}

TEST_CASE("IDX datasets check labels and split deterministically", "[data]") {
  focus::testing::TempDir dir;
  const int n = 20;
  std::vector<uint8_t> pixels(n * 4 * 4), labels(n);
  for (int i = 0; i < n; ++i) {
    labels[i] = static_cast<uint8_t>(i % 3);
    for (int j = 0; j < 16; ++j) pixels[i * 16 + j] = static_cast<uint8_t>(i);
  }
  write(dir / "img", idx_bytes({n, 4, 4}, pixels));
  write(dir / "lab", idx_bytes({n}, labels));
  focus::data::ImageDataConfig c;
  c.root = dir.path().string();
  c.train_images = "img";
  c.train_labels = "lab";
  c.class_names = {"a", "b", "c"};
  c.val_fraction = 0.25;
  auto pool = focus::data::load_training_pool(c);
  CHECK(pool.images.sizes() == torch::IntArrayRef({20, 4, 4, 1}));
  auto [train, val] = focus::data::split_train_val(pool, c);
  CHECK(train.size() == 15);
  CHECK(val.size() == 5);
  auto [train2, val2] = focus::data::split_train_val(pool, c);
  CHECK(torch::equal(val.labels, val2.labels));
  // train and val are disjoint and cover the pool (each image's pixel value is its index).
  auto ids = torch::cat({train.images.select(1, 0).select(1, 0).flatten(), val.images.select(1, 0).select(1, 0).flatten()});
  CHECK(std::get<0>(torch::_unique(ids)).numel() == 20);

  c.class_names = {"a", "b"};  // label 2 is now out of range
  CHECK_THROWS_WITH(focus::data::load_training_pool(c), Catch::Contains("lab") && Catch::Contains("out of range"));
  labels.pop_back();
  write(dir / "lab", idx_bytes({n - 1}, labels));
  c.class_names = {};
  CHECK_THROWS_WITH(focus::data::load_training_pool(c), Catch::Contains("19 labels") && Catch::Contains("20 images"));
}
