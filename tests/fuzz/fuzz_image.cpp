// The image decode path shared by image folders, multimodal manifests and
// focus-serve / focus-predict uploads. The first byte picks the channels and
// the output size; the rest is the file.
#include <opencv2/imgcodecs.hpp>

#include "../../lib/src/data/image_decode.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace focus;
  if (size < 1) return 0;
  const int channels = (data[0] & 1) ? 3 : 1;
  const int image_size = (data[0] >> 1) & 63;  // 0 keeps the image's size
  const auto bytes = fuzz::bytes_of(data + 1, size - 1);
  const int64_t declared = data::declared_pixels(bytes);
  cv::Mat image;
  if (fuzz::accepts([&] { image = data::decode_image(bytes, "fuzz.img", channels, image_size); })) {
    fuzz::require(!image.empty() && image.isContinuous(), "a decoded image is non-empty and continuous");
    fuzz::require(image.channels() == channels && image.depth() == CV_8U, "the requested uint8 channels");
    if (image_size > 0) fuzz::require(image.rows == image_size && image.cols == image_size, "resized to the size asked");
    fuzz::require(declared >= 0 && declared <= data::kMaxDecodedPixels, "only checked headers within the limit are decoded");
    if (image_size == 0)
      fuzz::require(static_cast<int64_t>(image.total()) <= data::kMaxDecodedPixels, "no image above the pixel limit is decoded");
  }
  return 0;
}
