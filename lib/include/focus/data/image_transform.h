#pragma once
// Per-image preparation: optional augmentation (random crop with padding,
// horizontal flip, rotation and scaling as one affine warp, random erasing),
// then normalisation into a CHW float buffer.
#include <cstdint>
#include <random>

#include "focus/data/image_data_config.h"
#include "focus/data/normalization.h"

namespace focus::data {

class ImageTransform {
 public:
  /// With `augment.enabled == false` this only normalises.
  ImageTransform(Normalization normalization, AugmentConfig augment);

  /// src: uint8 HWC image; dst: float CHW buffer of c*h*w values.
  void apply(const uint8_t* src, int64_t h, int64_t w, int64_t c, std::mt19937_64& rng, float* dst) const;

  const Normalization& normalization() const { return normalization_; }
  const AugmentConfig& augment() const { return augment_; }

 private:
  Normalization normalization_;
  AugmentConfig augment_;
};

}  // namespace focus::data
