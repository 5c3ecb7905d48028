// OWL's outlier ratios and per-layer sparsities (see owl.h).
#include "prune/owl.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace edgefit {

double outlier_ratio(std::span<const std::span<const float>> tensors, double m) {
  if (!(m > 0)) throw Error("OWL: outlier multiple M must be positive");
  double sum = 0;
  int64_t n = 0;
  for (const auto& t : tensors) {
    for (const float s : t) sum += s;
    n += static_cast<int64_t>(t.size());
  }
  if (n == 0) throw Error("OWL: a layer without scores has no outlier ratio");
  const double threshold = m * sum / static_cast<double>(n);
  int64_t above = 0;
  for (const auto& t : tensors)
    for (const float s : t) above += s > threshold;
  return static_cast<double>(above) / static_cast<double>(n);
}

namespace {

void check_owl_inputs(const std::vector<double>& ratios, const std::vector<int64_t>& counts,
                      const OwlOptions& o) {
  if (ratios.empty() || ratios.size() != counts.size())
    throw Error("OWL: " + std::to_string(ratios.size()) + " outlier ratios for " +
                std::to_string(counts.size()) + " layers");
  for (size_t l = 0; l < ratios.size(); ++l) {
    if (!(ratios[l] >= 0 && ratios[l] <= 1))
      throw Error("OWL: layer " + std::to_string(l) + " has outlier ratio " +
                  std::to_string(ratios[l]) + " outside [0, 1]");
    if (counts[l] <= 0) throw Error("OWL: layer " + std::to_string(l) + " has no parameters");
  }
  if (!(o.target >= 0 && o.target < 1))
    throw Error("OWL: target sparsity " + std::to_string(o.target) + " is outside [0, 1)");
  if (!(o.lambda >= 0) || o.target - o.lambda < 0 || o.target + o.lambda >= 1)
    throw Error("OWL: the band target ± lambda = " + std::to_string(o.target) + " ± " +
                std::to_string(o.lambda) + " leaves [0, 1)");
}

}  // namespace

std::vector<double> owl_sparsities(const std::vector<double>& ratios,
                                   const std::vector<int64_t>& counts, const OwlOptions& o) {
  check_owl_inputs(ratios, counts, o);
  const size_t L = ratios.size();
  std::vector<double> out(L, o.target);
  const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
  if (*hi == *lo || o.lambda == 0) return out;
  double total = 0, mean_d = 0;
  std::vector<double> d(L);
  for (size_t l = 0; l < L; ++l) {
    d[l] = (ratios[l] - *lo) / (*hi - *lo);
    total += static_cast<double>(counts[l]);
    mean_d += static_cast<double>(counts[l]) * d[l];
  }
  mean_d /= total;
  double widest = 0;
  std::vector<double> dev(L);
  for (size_t l = 0; l < L; ++l) {
    dev[l] = -2 * o.lambda * (d[l] - mean_d);
    widest = std::max(widest, std::fabs(dev[l]));
  }
  const double shrink = widest > o.lambda ? o.lambda / widest : 1.0;
  for (size_t l = 0; l < L; ++l) out[l] = o.target + shrink * dev[l];
  return out;
}

}  // namespace edgefit
