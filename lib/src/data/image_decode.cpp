#include "image_decode.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "focus/util/atomic_file.h"
#include "focus/util/error.h"

namespace focus::data {

namespace {

uint32_t big_endian(std::string_view b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<size_t>(i)]);
  return v;
}

uint32_t little_endian(std::string_view b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<size_t>(i)]);
  return v;
}

/// a * b for sizes read from a header (each below 2^32), saturated so that
/// the product of two 32-bit fields cannot overflow int64.
int64_t area(uint64_t a, uint64_t b) {
  uint64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product) || product > static_cast<uint64_t>(INT64_MAX)) return INT64_MAX;
  return static_cast<int64_t>(product);
}

int64_t png_pixels(std::string_view b) {
  // Signature, then the IHDR chunk: length 13, "IHDR", width, height (big-endian).
  if (b.size() < 24 || b.substr(12, 4) != "IHDR") return -1;
  return area(big_endian(b, 16, 4), big_endian(b, 20, 4));
}

int64_t bmp_pixels(std::string_view b) {
  // BITMAPFILEHEADER (14 bytes), then the info header: its size, then width and height
  // (signed 32-bit; a negative height means top-down rows). Width and height are
  // 16-bit fields in the old 12-byte BITMAPCOREHEADER.
  if (b.size() < 26) return -1;
  const uint32_t info = little_endian(b, 14, 4);
  if (info == 12)
    return area(static_cast<uint64_t>(static_cast<unsigned char>(b[18]) | static_cast<unsigned char>(b[19]) << 8),
                static_cast<uint64_t>(static_cast<unsigned char>(b[20]) | static_cast<unsigned char>(b[21]) << 8));
  auto magnitude = [](uint32_t v) {
    const auto s = static_cast<int64_t>(static_cast<int32_t>(v));
    return static_cast<uint64_t>(s < 0 ? -s : s);
  };
  return area(magnitude(little_endian(b, 18, 4)), magnitude(little_endian(b, 22, 4)));
}

int64_t jpeg_pixels(std::string_view b) {
  // Walk the marker segments to the first frame header (SOF0..SOF15 except
  // DHT C4, JPG C8 and DAC CC): FF Cn, length, precision, height, width.
  size_t at = 2;
  while (at + 1 < b.size()) {
    if (static_cast<unsigned char>(b[at]) != 0xFF) {  // stray bytes between segments: libjpeg skips them too
      ++at;
      continue;
    }
    const auto marker = static_cast<unsigned char>(b[at + 1]);
    if (marker == 0xFF) {  // fill byte before a marker
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // markers without a length
      at += 2;
      continue;
    }
    if (marker == 0xD9 || marker == 0xDA) return -1;  // end of image, or scan data before any frame header
    if (at + 4 > b.size()) return -1;
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      if (at + 9 > b.size()) return -1;
      return area(big_endian(b, at + 5, 2), big_endian(b, at + 7, 2));
    }
    const uint32_t length = big_endian(b, at + 2, 2);
    if (length < 2) return -1;
    at += 2 + length;
  }
  return -1;
}

int64_t webp_pixels(std::string_view b) {
  // RIFF container, then the first chunk: "VP8 " (lossy: frame tag, start code
  // 9D 01 2A, 14-bit width and height), "VP8L" (lossless: signature 0x2F, then
  // width-1 and height-1 in 14 bits each) or "VP8X" (extended: canvas
  // width-1 and height-1 in 24 bits each).
  if (b.size() < 30) return -1;
  const std::string_view chunk = b.substr(12, 4);
  if (chunk == "VP8 ") {
    if (static_cast<unsigned char>(b[23]) != 0x9D || static_cast<unsigned char>(b[24]) != 0x01 ||
        static_cast<unsigned char>(b[25]) != 0x2A)
      return -1;
    return area(little_endian(b, 26, 2) & 0x3FFF, little_endian(b, 28, 2) & 0x3FFF);
  }
  if (chunk == "VP8L") {
    if (static_cast<unsigned char>(b[20]) != 0x2F) return -1;
    const uint32_t bits = little_endian(b, 21, 4);
    return area((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
  }
  if (chunk == "VP8X") return area(little_endian(b, 24, 3) + uint64_t{1}, little_endian(b, 27, 3) + uint64_t{1});
  return -1;
}

int64_t pnm_pixels(std::string_view b) {
  // "P1".."P6", then width and height in ASCII decimal, separated by whitespace
  // and "#" comments running to the end of the line.
  size_t at = 2;
  uint64_t size[2] = {0, 0};
  for (uint64_t& value : size) {
    for (;;) {
      if (at >= b.size()) return -1;
      if (b[at] == '#') {
        while (at < b.size() && b[at] != '\n' && b[at] != '\r') ++at;
      } else if (b[at] == ' ' || b[at] == '\t' || b[at] == '\n' || b[at] == '\r' || b[at] == '\v' || b[at] == '\f') {
        ++at;
      } else {
        break;
      }
    }
    const size_t start = at;
    while (at < b.size() && b[at] >= '0' && b[at] <= '9') {
      if (at - start >= 12) return INT64_MAX;  // more digits than any real image has
      value = value * 10 + static_cast<uint64_t>(b[at] - '0');
      ++at;
    }
    if (at == start) return -1;
  }
  return area(size[0], size[1]);
}

}  // namespace

int64_t declared_pixels(std::string_view b) {
  if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return png_pixels(b);
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return bmp_pixels(b);
  if (b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8 &&
      static_cast<unsigned char>(b[2]) == 0xFF)
    return jpeg_pixels(b);
  if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") return webp_pixels(b);
  if (b.size() >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6') return pnm_pixels(b);
  return -1;
}

cv::Mat decode_image_bytes(std::string_view bytes, const std::string& origin, int flags) {
  if (bytes.empty()) throw Error(origin + ": empty image data");
  const int64_t pixels = declared_pixels(bytes);
  if (pixels < 0)
    throw Error(origin + ": not a decodable image (not PNG, JPEG, BMP, WebP or PNM data, or its header is cut short)");
  if (pixels > kMaxDecodedPixels)
    throw Error(origin + ": the image declares " + std::to_string(pixels) + " pixels, more than the " +
                std::to_string(kMaxDecodedPixels) + " accepted");
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) throw Error(origin + ": image data over 2 GiB");
  const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
  cv::Mat image;
  try {
    image = cv::imdecode(buffer, flags);
  } catch (const cv::Exception& e) {
    throw Error(origin + ": not a decodable image (" + e.what() + ")");
  }
  if (image.empty()) throw Error(origin + ": not a decodable image (corrupt or truncated data)");
  return image;
}

cv::Mat decode_image(std::string_view bytes, const std::string& origin, int channels, int image_size) {
  cv::Mat image = decode_image_bytes(bytes, origin, channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  if (channels == 3) cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
  if (image_size > 0 && (image.rows != image_size || image.cols != image_size))
    cv::resize(image, image, cv::Size(image_size, image_size), 0, 0, cv::INTER_AREA);
  if (!image.isContinuous()) image = image.clone();
  return image;
}

cv::Mat decode_image(const std::string& file, int channels, int image_size) {
  return decode_image(util::read_file(file), file, channels, image_size);
}

}  // namespace focus::data
