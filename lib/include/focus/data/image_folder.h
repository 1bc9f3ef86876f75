#pragma once
// Reader for image folders laid out as root/<class>/<image>.{png,jpg,jpeg,bmp}.
// Classes are the sub-directory names in sorted order. Every image is decoded
// with OpenCV, converted to the requested channels and resized.
#include <string>
#include <vector>

#include "focus/data/image_set.h"

namespace focus::data {

struct ImageFolderOptions {
  /// 1 = grayscale, 3 = RGB.
  int channels = 3;
  /// Output size (square); 0 keeps the size of the images, which must then agree.
  int image_size = 0;
  /// If non-empty, the classes expected (in label order); sub-directories must match.
  std::vector<std::string> class_names;
};

/// Reads every image below `root`. Throws focus::Error naming the file for a
/// file that is not a decodable image, and naming the folder for an empty
/// class folder or a root without class folders.
ImageSet read_image_folder(const std::string& root, const ImageFolderOptions& options = {});

}  // namespace focus::data
