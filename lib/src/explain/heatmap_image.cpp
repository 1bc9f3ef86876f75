#include "focus/explain/heatmap_image.h"

#include <cstring>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "focus/util/error.h"

namespace focus::explain {

namespace {

/// uint8 [H, W, C] tensor -> BGR cv::Mat (a copy).
cv::Mat to_bgr(const torch::Tensor& image) {
  if (image.dim() != 3 || image.scalar_type() != torch::kUInt8 || (image.size(2) != 1 && image.size(2) != 3))
    throw Error("heatmap image: expected uint8 [H, W, 1|3]");
  auto c = image.contiguous();
  cv::Mat m(static_cast<int>(c.size(0)), static_cast<int>(c.size(1)), c.size(2) == 1 ? CV_8UC1 : CV_8UC3,
            c.data_ptr<uint8_t>());
  cv::Mat bgr;
  cv::cvtColor(m, bgr, c.size(2) == 1 ? cv::COLOR_GRAY2BGR : cv::COLOR_RGB2BGR);
  return bgr;
}

/// [H, W] map in [0, 1] -> jet-coloured BGR.
cv::Mat jet(const torch::Tensor& map) {
  if (map.dim() != 2) throw Error("heatmap image: the map must be [H, W]");
  auto u8 = (map.detach().to(torch::kCPU).to(torch::kFloat).clamp(0, 1) * 255).round().to(torch::kUInt8).contiguous();
  cv::Mat gray(static_cast<int>(u8.size(0)), static_cast<int>(u8.size(1)), CV_8UC1, u8.data_ptr<uint8_t>());
  cv::Mat colored;
  cv::applyColorMap(gray, colored, cv::COLORMAP_JET);
  return colored;
}

cv::Mat blend(const torch::Tensor& image, const torch::Tensor& map, double opacity) {
  cv::Mat base = to_bgr(image);
  if (!map.defined()) return base;
  if (map.size(0) != image.size(0) || map.size(1) != image.size(1))
    throw Error("heatmap image: the map is " + std::to_string(map.size(1)) + "x" + std::to_string(map.size(0)) +
                " but the image " + std::to_string(image.size(1)) + "x" + std::to_string(image.size(0)));
  cv::Mat out;
  cv::addWeighted(jet(map), opacity, base, 1.0 - opacity, 0.0, out);
  return out;
}

std::string encode_png(const cv::Mat& m) {
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", m, bytes)) throw Error("heatmap image: PNG encoding failed");
  return {bytes.begin(), bytes.end()};
}

}  // namespace

torch::Tensor normalize_map(const torch::Tensor& map) {
  auto m = map.detach().to(torch::kFloat);
  const float lo = m.min().item<float>(), hi = m.max().item<float>();
  if (!(hi > lo)) return torch::zeros_like(m);
  return (m - lo) / (hi - lo);
}

torch::Tensor resize_map(const torch::Tensor& map, int64_t height, int64_t width) {
  if (map.dim() != 2) throw Error("resize_map: the map must be [h, w]");
  namespace F = torch::nn::functional;
  return F::interpolate(map.detach().to(torch::kFloat).view({1, 1, map.size(0), map.size(1)}),
                        F::InterpolateFuncOptions().size(std::vector<int64_t>{height, width}).mode(torch::kBilinear).align_corners(false))
      .view({height, width});
}

std::string npy_bytes(const torch::Tensor& tensor) {
  auto t = tensor.detach().to(torch::kCPU).to(torch::kFloat).contiguous();
  std::string shape = "(";
  for (int64_t d = 0; d < t.dim(); ++d) shape += std::to_string(t.size(d)) + (t.dim() == 1 ? ",)" : d + 1 < t.dim() ? ", " : ")");
  if (t.dim() == 0) shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in '\n'.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  const auto len = static_cast<uint16_t>(header.size());
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  out += header;
  const size_t bytes = static_cast<size_t>(t.numel()) * sizeof(float);
  const size_t at = out.size();
  out.resize(at + bytes);
  if (bytes) std::memcpy(&out[at], t.data_ptr<float>(), bytes);  // x86/ARM Linux are little-endian
  return out;
}

std::string overlay_png(const torch::Tensor& image, const torch::Tensor& map, double opacity) {
  return encode_png(blend(image, map, opacity));
}

std::string grid_png(const std::vector<GridTile>& tiles, const std::string& title, int tile) {
  if (tiles.empty()) throw Error("grid_png: no tiles");
  const int label_h = 22, title_h = 30, pad = 6;
  const int width = pad + static_cast<int>(tiles.size()) * (tile + pad);
  cv::Mat canvas(title_h + label_h + tile + pad, width, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::putText(canvas, title, cv::Point(pad, 20), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  for (size_t i = 0; i < tiles.size(); ++i) {
    const int x = pad + static_cast<int>(i) * (tile + pad);
    cv::putText(canvas, tiles[i].label, cv::Point(x, title_h + 15), cv::FONT_HERSHEY_SIMPLEX, 0.42,
                cv::Scalar(40, 40, 40), 1, cv::LINE_AA);
    cv::Mat scaled;
    cv::resize(blend(tiles[i].image, tiles[i].map, 0.5), scaled, cv::Size(tile, tile), 0, 0, cv::INTER_NEAREST);
    scaled.copyTo(canvas(cv::Rect(x, title_h + label_h, tile, tile)));
  }
  return encode_png(canvas);
}

}  // namespace focus::explain
