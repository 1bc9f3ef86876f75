#pragma once
// Decoding one image file with OpenCV (internal to the library, so that the
// public headers do not depend on OpenCV).
#include <string>

#include <opencv2/core/mat.hpp>

namespace focus::data {

/// Decodes `file` to `channels` (1 = grayscale, 3 = RGB) uint8 channels,
/// resized to image_size x image_size when image_size > 0; the result is
/// continuous. Throws focus::Error naming the file if it cannot be decoded.
cv::Mat decode_image(const std::string& file, int channels, int image_size);

}  // namespace focus::data
