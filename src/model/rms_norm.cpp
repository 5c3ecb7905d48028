#include "model/rms_norm.h"

#include <cmath>
#include <cstring>

#include "model/simd_math.h"

namespace edgefit {
namespace {

typedef float f8v __attribute__((vector_size(32)));
typedef double d8v __attribute__((vector_size(64)));

}  // namespace

EDGEFIT_MULTIVERSION
void rms_norm(const float* x, const float* g, float* y, int64_t n, float eps) {
  d8v acc{};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    f8v v;
    std::memcpy(&v, x + i, sizeof v);
    const d8v d = __builtin_convertvector(v, d8v);
    acc += d * d;
  }
  double ss = 0;
  for (int k = 0; k < 8; ++k) ss += acc[k];
  for (; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  i = 0;
  for (; i + 16 <= n; i += 16)
    simd::store16(y + i, simd::load16(x + i) * scale * simd::load16(g + i));
  for (; i < n; ++i) y[i] = x[i] * scale * g[i];
}

}  // namespace edgefit
