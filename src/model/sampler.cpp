#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.h"

namespace edgefit {

int32_t argmax(std::span<const float> logits) {
  if (logits.empty()) throw Error("argmax of an empty logit row");
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(SamplerConfig cfg) : cfg_(cfg), rng_(cfg.seed) {}

int32_t Sampler::sample(std::span<const float> logits) {
  if (cfg_.temperature <= 0.0f) return argmax(logits);
  const int n = static_cast<int>(logits.size());
  std::vector<int32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  // Keep the k best, sorted best first (ties by lower id, so results do not depend on the sort).
  const int k = cfg_.top_k > 0 ? std::min(cfg_.top_k, n) : n;
  auto better = [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), better);
  idx.resize(static_cast<size_t>(k));
  // Softmax over the survivors at the given temperature (in double: no overflow, no bias).
  std::vector<double> p(idx.size());
  const double mx = logits[idx[0]];
  double sum = 0;
  for (size_t i = 0; i < idx.size(); ++i) {
    p[i] = std::exp((logits[idx[i]] - mx) / cfg_.temperature);
    sum += p[i];
  }
  for (double& v : p) v /= sum;
  // Nucleus: the shortest prefix whose mass reaches top_p.
  size_t keep = p.size();
  if (cfg_.top_p < 1.0f) {
    double cum = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      cum += p[i];
      if (cum >= cfg_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double mass = 0;
  for (size_t i = 0; i < keep; ++i) mass += p[i];
  // Uniform in [0, mass) from the 53 high bits: same draw on every platform, unlike
  // std::uniform_real_distribution whose algorithm is implementation-defined.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * mass;
  double cum = 0;
  for (size_t i = 0; i < keep; ++i) {
    cum += p[i];
    if (u < cum) return idx[i];
  }
  return idx[keep - 1];
}

}  // namespace edgefit
