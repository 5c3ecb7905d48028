#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/simd_math.h"

namespace edgefit {
namespace {

using simd::exp16;
using simd::f16v;
using simd::load16;
using simd::splat;
using simd::store16;

EDGEFIT_ALWAYS_INLINE float hmax(f16v v) {
  float m = v[0];
  for (int i = 1; i < 16; ++i) m = std::max(m, v[i]);
  return m;
}
EDGEFIT_ALWAYS_INLINE float hsum(f16v v) {
  float s = 0;
  for (int i = 0; i < 16; ++i) s += v[i];
  return s;
}

constexpr int kB = KVCache::kKeyBlock;
constexpr int kMaxHeads = 8;  // query heads handled per pass (accumulators kept in registers)

EDGEFIT_MULTIVERSION
void attend_heads(const KVCache& cache, int layer, int kv_head, int64_t n_keys, const float* q,
                  int heads, float scale, float* out, float* s) {
  const int64_t hd = cache.head_dim();
  const int64_t nb = (n_keys + kB - 1) / kB;
  const int64_t padded = nb * kB;
  // Scores: s[g·padded + j] = scale · q_g · k_j, 16 keys per block.
  for (int64_t b = 0; b < nb; ++b) {
    const float* kb = cache.key_block(layer, kv_head, b);
    f16v acc[kMaxHeads];
    for (int g = 0; g < heads; ++g) acc[g] = f16v{};
    for (int64_t d = 0; d < hd; ++d) {
      const f16v k = load16(kb + d * kB);
      for (int g = 0; g < heads; ++g) acc[g] += q[g * hd + d] * k;
    }
    for (int g = 0; g < heads; ++g) store16(s + g * padded + b * kB, acc[g] * scale);
  }
  // Softmax per head; positions past n_keys in the last block get weight 0.
  float inv_sum[kMaxHeads];
  for (int g = 0; g < heads; ++g) {
    float* sg = s + g * padded;
    for (int64_t j = n_keys; j < padded; ++j) sg[j] = -INFINITY;
    f16v mx = load16(sg);
    for (int64_t b = 1; b < nb; ++b) {
      const f16v v = load16(sg + b * kB);
      mx = v > mx ? v : mx;
    }
    const float m = hmax(mx);
    f16v sum = f16v{};
    for (int64_t b = 0; b < nb; ++b) {
      const f16v x = load16(sg + b * kB) - m;
      f16v e = exp16(x);
      e = x == -INFINITY ? f16v{} : e;
      store16(sg + b * kB, e);
      sum += e;
    }
    inv_sum[g] = 1.0f / hsum(sum);
  }
  // out_g = Σ_j p_gj · v_j / Σ_j p_gj, a value row at a time (16 floats per step, then the rest).
  int64_t d0 = 0;
  for (; d0 + 16 <= hd; d0 += 16) {
    f16v acc[kMaxHeads];
    for (int g = 0; g < heads; ++g) acc[g] = f16v{};
    for (int64_t j = 0; j < n_keys; ++j) {
      const f16v v = load16(cache.v(layer, j) + kv_head * hd + d0);
      for (int g = 0; g < heads; ++g) acc[g] += s[g * padded + j] * v;
    }
    for (int g = 0; g < heads; ++g) store16(out + g * hd + d0, acc[g] * inv_sum[g]);
  }
  for (int g = 0; g < heads; ++g) {
    for (int64_t d = d0; d < hd; ++d) {
      float a = 0;
      for (int64_t j = 0; j < n_keys; ++j)
        a += s[g * padded + j] * cache.v(layer, j)[kv_head * hd + d];
      out[g * hd + d] = a * inv_sum[g];
    }
  }
}

}  // namespace

void attend(const KVCache& cache, int layer, int kv_head, int64_t n_keys, const float* q, int group,
            float scale, float* out, float* scratch) {
  const int64_t hd = cache.head_dim();
  for (int g0 = 0; g0 < group; g0 += kMaxHeads) {
    const int heads = std::min(kMaxHeads, group - g0);
    attend_heads(cache, layer, kv_head, n_keys, q + g0 * hd, heads, scale, out + g0 * hd,
                 scratch + g0 * attention_scratch_floats(1, n_keys));
  }
}

}  // namespace edgefit
