#pragma once
// Deletion and insertion (Petsiuk et al. 2018, "RISE"): how faithful a
// saliency map is to the model. The input's units (pixels, tokens) are removed
// from the full input most salient first (deletion), or restored into an empty
// input most salient first (insertion); the probability of the explained class
// is recorded after each step. A faithful map makes the deletion curve fall
// fast (low area under it) and the insertion curve rise fast (high area).
// The same curves for a random order are the baseline a map must beat.
#include <cstdint>
#include <functional>
#include <vector>

#include <torch/types.h>

namespace focus::explain {

struct FaithfulnessOptions {
  int64_t steps = 50;       ///< points of each curve after the first (units removed in equal shares)
  int64_t batch_size = 64;  ///< inputs per forward call
};

/// keep: [N, units] bool (true = the unit is present). Returns the explained
/// class's probability for each of the N partial inputs: [N].
using KeptProbabilityFn = std::function<torch::Tensor(const torch::Tensor& keep)>;

struct FaithfulnessCurves {
  std::vector<double> fraction;   ///< share of units removed (deletion) / restored (insertion), 0 .. 1
  std::vector<double> deletion;   ///< probability after removing that share, most salient first
  std::vector<double> insertion;  ///< probability with only that share present, most salient first
  double deletion_auc = 0, insertion_auc = 0;  ///< trapezoidal areas over fraction in [0, 1]
};

/// Unit indices ordered by decreasing `saliency` ([units], any shape is flattened);
/// ties keep the lower index first.
std::vector<int64_t> salience_order(const torch::Tensor& saliency);
/// A uniformly random order of `units` units, reproducible from `seed`.
std::vector<int64_t> random_order(int64_t units, uint64_t seed);

/// The deletion and insertion curves of `order` (a permutation of 0 .. units-1).
/// Throws focus::Error when `order` is not a permutation or options are invalid.
FaithfulnessCurves deletion_insertion(const KeptProbabilityFn& probability, const std::vector<int64_t>& order,
                                      const FaithfulnessOptions& options = {});

/// Trapezoidal area under y over x (x increasing).
double area_under(const std::vector<double>& x, const std::vector<double>& y);

/// For an image [C, H, W] and a probability function over images: a unit is a
/// pixel (all channels together); an absent pixel takes `baseline` ([C], one
/// value per channel; undefined = 0). Petsiuk et al. remove pixels to black: for
/// normalised input that is -mean / std per channel.
KeptProbabilityFn image_units(const std::function<torch::Tensor(const torch::Tensor&)>& probabilities,
                              const torch::Tensor& image, int64_t target, const torch::Tensor& baseline = {});

}  // namespace focus::explain
