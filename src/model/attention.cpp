#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// The 64-byte vector helpers below are always inlined inside this file; GCC still warns that
// passing such vectors by value would have another ABI without AVX-512 (nothing crosses a call).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace edgefit {
namespace {

// 16 floats as one GCC vector: a zmm register in the AVX-512 clone, two ymm in the AVX2 one,
// four xmm (or NEON registers) otherwise. No intrinsics, so the same source serves every target.
typedef float f16v __attribute__((vector_size(64)));
typedef int32_t i16v __attribute__((vector_size(64)));

#define EDGEFIT_ALWAYS_INLINE inline __attribute__((always_inline))

EDGEFIT_ALWAYS_INLINE f16v load16(const float* p) {
  f16v v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
EDGEFIT_ALWAYS_INLINE void store16(float* p, f16v v) {
  std::memcpy(p, &v, sizeof v);
}
EDGEFIT_ALWAYS_INLINE f16v splat(float x) {
  return f16v{} + x;
}

// e^x for x <= 0 (softmax arguments after subtracting the max): x = n·ln2 + r, |r| <= ln2/2,
// e^r by Cephes' degree-6 polynomial, 2^n assembled in the exponent bits. Below -87 it returns
// ~1e-38 instead of denormals or 0, which softmax cannot tell apart.
EDGEFIT_ALWAYS_INLINE f16v exp16(f16v x) {
  x = x < -87.0f ? splat(-87.0f) : x;
  const f16v magic = splat(12582912.0f);  // 1.5·2^23: adding it rounds to an integer
  const f16v n = (x * 1.44269504088896341f + magic) - magic;
  const f16v r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  f16v p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const i16v bits = (__builtin_convertvector(n, i16v) + 127) << 23;
  f16v two_n;
  std::memcpy(&two_n, &bits, sizeof two_n);
  return p * two_n;
}

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

#if defined(__x86_64__) && !defined(__clang__)
#define EDGEFIT_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define EDGEFIT_MULTIVERSION
#endif

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
