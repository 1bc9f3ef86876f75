#pragma once
// Per-channel normalisation statistics, computed on the training split and
// stored in the run directory so evaluation and deployment use the same.
#include <vector>

#include "focus/data/image_set.h"
#include "focus/util/json_reader.h"

namespace focus::data {

struct Normalization {
  std::vector<double> mean;  ///< per channel, on the [0, 1] pixel scale
  std::vector<double> std;   ///< per channel, > 0
};

Normalization compute_normalization(const ImageSet& set);
util::Json to_json(const Normalization& n);
Normalization normalization_from_json(const util::Json& json, const std::string& context);

}  // namespace focus::data
