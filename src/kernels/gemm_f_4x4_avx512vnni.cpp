// AVX-512 kernels of the float weight types (F32, F16, BF16) × f32 activations for the AVX-512
// VNNI table: register tiles of 4 rows × 4 tokens of FMAs, lane i mod 16 of each accumulator as in
// the scalar reference; rows as they are or row-interleaved in groups of 4 (kernels.h).
#include "kernels/common_avx512vnni.inc"

namespace edgefit::kernels::detail {
namespace {

constexpr int64_t kTokBlock = 64;  // float gemm: tokens per block (whole 4-token tiles)

// 16 weights at p as floats.
template <DType W>
inline __m512 load_w16(const void* p, __mmask16 k = 0xFFFF) {
  if constexpr (W == DType::F32) return _mm512_maskz_loadu_ps(k, p);
  if constexpr (W == DType::F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, p));
  // BF16: the upper half of an f32.
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, p)), 16));
}

template <DType W>
constexpr int64_t wsize() {
  return W == DType::F32 ? 4 : 2;
}

// Weight i of row r of a tile at w: rows w_stride apart, or (kX4) a row-interleaved group, where
// run i/16 holds 16 weights of each of the 4 rows (kernels.h) and i is a multiple of 16.
template <DType W, bool kX4>
inline const uint8_t* wptr(const uint8_t* w, size_t w_stride, int r, int64_t i) {
  if constexpr (kX4) return w + (4 * i + kInterleaveRun * r) * wsize<W>();
  return w + r * w_stride + i * wsize<W>();
}

// R rows × T tokens; lane i mod 16 of each accumulator, as the scalar reference.
template <DType W, int R, int T, bool kX4 = false>
void ftile(int64_t n, const uint8_t* w, size_t w_stride, const float* const* x, float* y,
           int64_t ys) {
  static_assert(!kX4 || R == kInterleaveRows, "an interleaved group is read whole");
  __m512 acc[R][T];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 wv[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) wv[r] = load_w16<W>(wptr<W, kX4>(w, w_stride, r, i));
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_loadu_ps(x[t] + i);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  if (!kX4 && i < n) {  // masked tail: lanes past n keep their value exactly
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512 wv = load_w16<W>(wptr<W, false>(w, w_stride, r, i), k);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        acc[r][t] = _mm512_mask3_fmadd_ps(wv, _mm512_maskz_loadu_ps(k, x[t] + i), acc[r][t], k);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) y[t * ys + r] = hsum(acc[r][t]);
}

}  // namespace

// kX4: row-interleaved weights (whole groups of 4 rows, widths a multiple of 16).
template <DType W, bool kX4>
void avx512vnni_gemm_f(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
                       size_t act_stride, int64_t n_tok, float* y, int64_t ys) {
  const auto* wb = static_cast<const uint8_t*>(w);
  for (int64_t t0 = 0; t0 < n_tok; t0 += kTokBlock) {
    const int64_t t1 = t0 + kTokBlock < n_tok ? t0 + kTokBlock : n_tok;
    for (int64_t r = 0; r < n_rows; r += 4) {
      for (int64_t t = t0; t < t1; t += 4) {
        const float* x[4];
        const int tn = t1 - t < 4 ? static_cast<int>(t1 - t) : 4;
        for (int i = 0; i < tn; ++i) {
          x[i] = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act) +
                                                (t + i) * act_stride);
        }
        const uint8_t* wr = wb + r * w_stride;
        float* yt = y + t * ys + r;
        if (n_rows - r >= 4 && tn == 4) {
          ftile<W, 4, 4, kX4>(n, wr, w_stride, x, yt, ys);
        } else if (n_rows - r >= 4) {
          // One token (decode), or a token edge: 4 rows side by side give 4 independent FMA
          // chains, where one row alone is FMA-latency bound. Measured (Zen 4, weights on huge
          // pages, one thread) F16 gemv 17.5 → 20.7 GB/s from DRAM and 34 → 56 GB/s cache-hot;
          // row-interleaved (kX4), the 4 rows are one stream (kernels.h).
          for (int i = 0; i < tn; ++i) ftile<W, 4, 1, kX4>(n, wr, w_stride, x + i, yt + i * ys, ys);
        } else {  // edges (never kX4: whole groups): one (row, token) at a time, same lane order
          for (int64_t rr = r; rr < n_rows && rr < r + 4; ++rr) {
            for (int i = 0; i < tn; ++i) {
              ftile<W, 1, 1>(n, wb + rr * w_stride, 0, x + i, y + (t + i) * ys + rr, ys);
            }
          }
        }
      }
    }
  }
}

template <DType W>
float avx512vnni_dot_f(int64_t n, const void* w, const void* x) {
  float y;
  const float* xp = static_cast<const float*>(x);
  ftile<W, 1, 1>(n, static_cast<const uint8_t*>(w), 0, &xp, &y, 1);
  return y;
}

#define EDGEFIT_INSTANTIATE(W)                                                                     \
  template void avx512vnni_gemm_f<DType::W, false>(int64_t, const void*, size_t, int64_t,          \
                                                   const void*, size_t, int64_t, float*, int64_t); \
  template void avx512vnni_gemm_f<DType::W, true>(int64_t, const void*, size_t, int64_t,           \
                                                  const void*, size_t, int64_t, float*, int64_t);  \
  template float avx512vnni_dot_f<DType::W>(int64_t, const void*, const void*);
EDGEFIT_AVX512VNNI_FLOAT_TYPES(EDGEFIT_INSTANTIATE)

}  // namespace edgefit::kernels::detail
