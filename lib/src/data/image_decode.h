#pragma once
// Decoding image files and uploaded image bytes with OpenCV (internal to the
// library, so that the public headers do not depend on OpenCV). One decoder
// serves the image folders, the multimodal manifests and focus-serve /
// focus-predict, so every path that reads outside images gets the same checks.
#include <cstdint>
#include <string>
#include <string_view>

#include <opencv2/core/mat.hpp>

namespace focus::data {

/// The largest image (width x height, as its header declares it) decoded; a
/// small file must not make the decoder allocate gigabytes.
inline constexpr int64_t kMaxDecodedPixels = 64LL << 20;

/// Width x height as declared by a PNG (IHDR), JPEG (first SOFn frame
/// header), BMP (info header), WebP (VP8, VP8L or VP8X chunk) or PNM (P1..P6)
/// header; -1 when `bytes` is none of these formats or its header is cut
/// short or malformed. Saturates instead of overflowing.
int64_t declared_pixels(std::string_view bytes);

/// Decodes `bytes` with OpenCV imdecode `flags`. Only the formats whose header
/// declared_pixels reads are accepted, and the header must declare at most
/// kMaxDecodedPixels: OpenCV's own limit is read when its library loads, too
/// early for a program to set, and is 16 times larger. Throws focus::Error
/// naming `origin` for empty data, another format, a header that declares too
/// many pixels, or data the decoder rejects.
cv::Mat decode_image_bytes(std::string_view bytes, const std::string& origin, int flags);

/// decode_image_bytes of the file's contents, converted to `channels`
/// (1 = grayscale, 3 = RGB) uint8 channels and resized to image_size x
/// image_size when image_size > 0; the result is continuous. Throws
/// focus::Error naming the file if it cannot be read or decoded.
cv::Mat decode_image(const std::string& file, int channels, int image_size);

/// The same conversion for bytes already in memory.
cv::Mat decode_image(std::string_view bytes, const std::string& origin, int channels, int image_size);

}  // namespace focus::data
