#include "focus/explain/faithfulness.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "focus/util/error.h"

namespace focus::explain {

std::vector<int64_t> salience_order(const torch::Tensor& saliency) {
  auto s = saliency.detach().to(torch::kCPU).to(torch::kDouble).contiguous().view({-1});
  const double* v = s.data_ptr<double>();
  std::vector<int64_t> order(static_cast<size_t>(s.numel()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) { return v[a] > v[b]; });
  return order;
}

std::vector<int64_t> random_order(int64_t units, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(std::max<int64_t>(0, units)));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

double area_under(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size()) throw Error("area_under: x and y differ in length");
  double area = 0;
  for (size_t i = 1; i < x.size(); ++i) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
  return area;
}

FaithfulnessCurves deletion_insertion(const KeptProbabilityFn& probability, const std::vector<int64_t>& order,
                                      const FaithfulnessOptions& o) {
  const auto units = static_cast<int64_t>(order.size());
  if (units < 1) throw Error("deletion/insertion: the input has no units to remove");
  if (o.steps < 1 || o.batch_size < 1) throw Error("deletion/insertion: steps and batch size must be >= 1");
  std::vector<bool> seen(static_cast<size_t>(units), false);
  for (int64_t u : order) {
    if (u < 0 || u >= units || seen[static_cast<size_t>(u)])
      throw Error("deletion/insertion: the order is not a permutation of the input's units");
    seen[static_cast<size_t>(u)] = true;
  }
  // Step k removes (restores) the first round(k * units / steps) units of the order.
  const int64_t steps = std::min(o.steps, units);
  std::vector<int64_t> counts;
  for (int64_t k = 0; k <= steps; ++k) counts.push_back((k * units + steps / 2) / steps);
  // rank[u]: position of unit u in the order; unit present after deleting n units iff rank >= n.
  auto rank = torch::empty({units}, torch::kLong);
  for (int64_t i = 0; i < units; ++i) rank[order[static_cast<size_t>(i)]] = i;
  const auto n = static_cast<int64_t>(counts.size());
  auto thresholds = torch::tensor(counts, torch::kLong).unsqueeze(1);            // [n, 1]
  auto deleted = rank.unsqueeze(0) >= thresholds;                                 // [n, units]: kept after deletion
  auto inserted = rank.unsqueeze(0) < thresholds;                                 // [n, units]: present after insertion
  auto keep = torch::cat({deleted, inserted});                                    // [2n, units]
  std::vector<double> p;
  for (int64_t start = 0; start < 2 * n; start += o.batch_size) {
    auto part = probability(keep.narrow(0, start, std::min(o.batch_size, 2 * n - start)));
    auto c = part.detach().to(torch::kCPU).to(torch::kDouble).contiguous().view({-1});
    if (c.numel() != std::min(o.batch_size, 2 * n - start))
      throw Error("deletion/insertion: the probability function returned the wrong number of values");
    p.insert(p.end(), c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  }
  FaithfulnessCurves curves;
  for (int64_t c : counts) curves.fraction.push_back(static_cast<double>(c) / static_cast<double>(units));
  curves.deletion.assign(p.begin(), p.begin() + n);
  curves.insertion.assign(p.begin() + n, p.end());
  curves.deletion_auc = area_under(curves.fraction, curves.deletion);
  curves.insertion_auc = area_under(curves.fraction, curves.insertion);
  return curves;
}

KeptProbabilityFn image_units(const std::function<torch::Tensor(const torch::Tensor&)>& probabilities,
                              const torch::Tensor& image, int64_t target, const torch::Tensor& baseline) {
  if (image.dim() != 3) throw Error("deletion/insertion: the image must be [C, H, W]");
  const int64_t channels = image.size(0);
  if (baseline.defined() && baseline.numel() != channels)
    throw Error("deletion/insertion: the baseline has " + std::to_string(baseline.numel()) + " values for " +
                std::to_string(channels) + " channels");
  auto fill = (baseline.defined() ? baseline.to(image.options()) : torch::zeros({channels}, image.options())).view({1, channels, 1, 1});
  return [probabilities, image, target, fill](const torch::Tensor& keep) {
    torch::NoGradGuard no_grad;
    const int64_t h = image.size(1), w = image.size(2);
    auto mask = keep.to(image.device()).view({-1, 1, h, w});
    auto images = torch::where(mask, image.unsqueeze(0), fill);
    auto p = probabilities(images);
    if (target < 0 || target >= p.size(1))
      throw Error("deletion/insertion: class " + std::to_string(target) + " is outside the model's " +
                  std::to_string(p.size(1)) + " classes");
    return p.select(1, target);
  };
}

}  // namespace focus::explain
