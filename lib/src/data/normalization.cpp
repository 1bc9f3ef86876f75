#include "focus/data/normalization.h"

#include <cmath>

#include "focus/util/error.h"

namespace focus::data {

Normalization compute_normalization(const ImageSet& set) {
  if (set.size() == 0) throw Error(set.source + ": cannot compute normalisation of an empty set");
  auto pixels = set.images.to(torch::kDouble).div_(255.0).reshape({-1, set.channels()});
  auto mean = pixels.mean(0);
  auto std = pixels.std(0, /*unbiased=*/false).clamp_min(1e-6);
  Normalization n;
  for (int64_t c = 0; c < set.channels(); ++c) {
    n.mean.push_back(mean[c].item<double>());
    n.std.push_back(std[c].item<double>());
  }
  return n;
}

util::Json to_json(const Normalization& n) { return {{"mean", n.mean}, {"std", n.std}}; }

Normalization normalization_from_json(const util::Json& json, const std::string& context) {
  Normalization n;
  util::ObjectReader r(json, context);
  r.require("mean", n.mean).require("std", n.std);
  r.finish();
  if (n.mean.empty() || n.mean.size() != n.std.size())
    throw Error(context + ": mean and std must be non-empty and of equal length");
  for (double s : n.std)
    if (!(s > 0)) throw Error(context + ": std values must be positive");
  return n;
}

}  // namespace focus::data
