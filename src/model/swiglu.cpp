#include "model/swiglu.h"

#include <cmath>

#include "model/simd_math.h"

namespace edgefit {
namespace {

using simd::f16v;

// SiLU(g) · u for 16 lanes. e = e^-|g| is always in [0, 1], so it never overflows:
// sigmoid(g) = 1 / (1 + e) for g >= 0 and e / (1 + e) for g < 0. Below -87, where exp16 stops
// at ~1e-38 and g · e would not vanish for huge |g|, e is 0 (the float e^-87 is ~1.6e-38 anyway).
EDGEFIT_ALWAYS_INLINE f16v swiglu16(f16v g, f16v u) {
  const f16v neg_abs = g < 0.0f ? g : -g;
  const f16v e = neg_abs < -87.0f ? f16v{} : simd::exp16(neg_abs);
  const f16v num = g < 0.0f ? e : simd::splat(1.0f);
  return g * num / (1.0f + e) * u;
}

}  // namespace

EDGEFIT_MULTIVERSION
void swiglu(float* gate, const float* up, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    simd::store16(gate + i, swiglu16(simd::load16(gate + i), simd::load16(up + i)));
  if (i < n) {  // the tail through a zero-padded vector: same arithmetic as the full lanes
    float g[16] = {}, u[16] = {};
    for (int64_t j = i; j < n; ++j) {
      g[j - i] = gate[j];
      u[j - i] = up[j];
    }
    simd::store16(g, swiglu16(simd::load16(g), simd::load16(u)));
    for (int64_t j = i; j < n; ++j) gate[j] = g[j - i];
  }
}

void swiglu_reference(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace edgefit
