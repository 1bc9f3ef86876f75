#include "focus/data/image_transform.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "focus/util/error.h"

namespace focus::data {

ImageTransform::ImageTransform(Normalization normalization, AugmentConfig augment)
    : normalization_(std::move(normalization)), augment_(augment) {}

namespace {

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

// Random erasing: one rectangle of random area and aspect set to 0 (the mean
// after normalisation), applied to every channel.
void erase(float* dst, int64_t h, int64_t w, int64_t c, double max_area, std::mt19937_64& rng) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double area = uniform(rng, 0.02, max_area) * static_cast<double>(h * w);
    const double aspect = std::exp(uniform(rng, std::log(0.3), std::log(1 / 0.3)));
    const auto eh = static_cast<int64_t>(std::round(std::sqrt(area * aspect)));
    const auto ew = static_cast<int64_t>(std::round(std::sqrt(area / aspect)));
    if (eh < 1 || ew < 1 || eh >= h || ew >= w) continue;
    const int64_t y0 = std::uniform_int_distribution<int64_t>(0, h - eh)(rng);
    const int64_t x0 = std::uniform_int_distribution<int64_t>(0, w - ew)(rng);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = y0; y < y0 + eh; ++y) std::fill_n(dst + (ch * h + y) * w + x0, ew, 0.0f);
    return;
  }
}

}  // namespace

void ImageTransform::apply(const uint8_t* src, int64_t h, int64_t w, int64_t c, std::mt19937_64& rng,
                           float* dst) const {
  if (static_cast<int64_t>(normalization_.mean.size()) != c)
    throw Error("image has " + std::to_string(c) + " channels but the normalisation has " +
                std::to_string(normalization_.mean.size()));
  const int type = CV_8UC(static_cast<int>(c));
  cv::Mat image(static_cast<int>(h), static_cast<int>(w), type, const_cast<uint8_t*>(src));
  const auto& a = augment_;
  if (a.enabled) {
    const bool flip = a.horizontal_flip && uniform(rng, 0, 1) < 0.5;
    const double angle = a.rotate_degrees > 0 ? uniform(rng, -a.rotate_degrees, a.rotate_degrees) : 0.0;
    const double scale = a.scale > 0 ? uniform(rng, 1 - a.scale, 1 + a.scale) : 1.0;
    // A crop of the zero-padded image is a translation by up to +-padding pixels.
    const int p = a.crop_padding;
    const double tx = p > 0 ? std::uniform_int_distribution<int>(-p, p)(rng) : 0;
    const double ty = p > 0 ? std::uniform_int_distribution<int>(-p, p)(rng) : 0;
    if (flip || angle != 0.0 || scale != 1.0 || tx != 0 || ty != 0) {
      // out = A (p - c) + c + t with A = R F: R rotates and scales about the centre c,
      // F = diag(-1, 1) flips left-right (F negates A's first column).
      const double cx = static_cast<double>(w - 1) / 2, cy = static_cast<double>(h - 1) / 2;
      cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(static_cast<float>(cx), static_cast<float>(cy)), angle, scale);
      if (flip) {
        m.at<double>(0, 0) = -m.at<double>(0, 0);
        m.at<double>(1, 0) = -m.at<double>(1, 0);
      }
      m.at<double>(0, 2) = cx + tx - (m.at<double>(0, 0) * cx + m.at<double>(0, 1) * cy);
      m.at<double>(1, 2) = cy + ty - (m.at<double>(1, 0) * cx + m.at<double>(1, 1) * cy);
      cv::Mat warped;
      cv::warpAffine(image, warped, m, image.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
      image = warped;
    }
  }
  // Normalise into CHW.
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* row = image.ptr<uint8_t>(static_cast<int>(y));
    for (int64_t x = 0; x < w; ++x)
      for (int64_t ch = 0; ch < c; ++ch) {
        const double v = row[x * c + ch] / 255.0;
        dst[(ch * h + y) * w + x] = static_cast<float>((v - normalization_.mean[ch]) / normalization_.std[ch]);
      }
  }
  if (a.enabled && a.erase_probability > 0 && uniform(rng, 0, 1) < a.erase_probability)
    erase(dst, h, w, c, a.erase_max_area, rng);
}

}  // namespace focus::data
