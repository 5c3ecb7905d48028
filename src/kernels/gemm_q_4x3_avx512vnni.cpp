// AVX-512 VNNI gemm register tiles: up to 4 panel rows × 3 tokens (gemm_q_panel_avx512vnni.cpp
// builds the panels), G vpdpbusd per (row, token) per chunk into 12 int32 accumulators, then the
// float epilogue into 12 float ones.
#include "kernels/common_avx512vnni.inc"

namespace edgefit::kernels::detail {
namespace {

// hsum of a, b, c, d in lanes 0-3, each folded in reduce16's order: the same pairs added, four
// accumulators per shuffle (hsum alone is 7 dependent instructions per accumulator).
inline __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
  // 16 → 8: 128-bit lanes 0, 1 of a (+ lanes 2, 3) and of b side by side.
  const __m512 ab =
      _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
  const __m512 cd =
      _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
  // 8 → 4: lane k of the result holds the 4 partial sums of accumulator k.
  const __m512 s4 =
      _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
  // 4 → 2 → 1 inside each 128-bit lane: (x0 + x2) + (x1 + x3).
  const __m512 s2 = _mm512_add_ps(s4, _mm512_permute_ps(s4, 0x4E));
  const __m512 s1 = _mm512_add_ps(s2, _mm512_permute_ps(s2, 0xB1));
  const __m512i first = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_castps512_ps128(_mm512_permutexvar_ps(first, s1));
}

// y[t · ys + r] = the folded facc[r][t]: four rows of a token as one 16-byte store.
template <int R, int T>
EDGEFIT_INLINE void store_sums(const __m512 (&facc)[R][T], float* y, int64_t ys) {
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    if constexpr (R == 4) {
      _mm_storeu_ps(y + t * ys, hsum4(facc[0][t], facc[1][t], facc[2][t], facc[3][t]));
    } else {
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) y[t * ys + r] = hsum(facc[r][t]);
    }
  }
}

// The gemm tile's epilogue: the floats of the gemv's epilogue<F> (gemv_q_avx512vnni.cpp), with
// the integer scale and min products done as float multiplies of exact integers. Every format
// keeps |x · sc| and |m · Σ| below 2^24 (Q5_K, the largest: 32 · 128 · 31 · 63 < 2^23), so
// float(x) · float(sc) == float(x · sc), no rounding. Why: vpmulld is two port-0 µops on Intel
// cores, where vpdpbusd also runs; a float multiply can take port 5. Q4_K had four vpmulld µops and
// two converts per (row, token, chunk) on port 0 beside its 8 vpdpbusd; now one convert.
template <QFormat F>
EDGEFIT_INLINE __m512 epilogue_panel(__m512i x, const GemmChunkOf<F>& wc, __m512 ad, __m512i as,
                                     __m512 asf, __m512 facc) {
  constexpr QFormatInfo fi = qformat_info(F);
  if constexpr (weight_offset(F) != 0) x = _mm512_sub_epi32(x, as);
  __m512 xf = _mm512_cvtepi32_ps(x);
  if constexpr (fi.has_scale) xf = _mm512_mul_ps(xf, _mm512_load_ps(wc.sc));
  facc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_load_ps(wc.d), ad), xf, facc);
  if constexpr (fi.has_min) {
    const __m512 mt = _mm512_mul_ps(_mm512_load_ps(wc.m), asf);
    facc = _mm512_fnmadd_ps(_mm512_mul_ps(_mm512_load_ps(wc.dmin), ad), mt, facc);
  }
  return facc;
}

// Gemm register tile: R panel rows × T tokens over all nc chunks; G vpdpbusd per (row, token)
// per chunk, the weights and activations each loaded once per chunk.
template <QFormat F, int R, int T>
void tile(const GemmChunkOf<F>* const* wr, const AChunkOf<F>* const* at, int64_t nc, float* y,
          int64_t ys) {
  __m512 facc[R][T];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) facc[r][t] = _mm512_setzero_ps();
  for (int64_t c = 0; c < nc; ++c) {
    __m512i acc[R][T];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int g = 0; g < kG<F>; ++g) {
      __m512i wv[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) wv[r] = _mm512_load_si512(wr[r][c].q[g]);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m512i av = _mm512_load_si512(at[t][c].q[g]);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], wv[r], av);
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m512 ad = _mm512_load_ps(at[t][c].d);
      const __m512i as = _mm512_load_si512(at[t][c].sum);
      // The sums as floats once per token, shared by the R rows (only min terms read them).
      const __m512 asf = qformat_info(F).has_min ? _mm512_cvtepi32_ps(as) : _mm512_setzero_ps();
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        facc[r][t] = epilogue_panel<F>(acc[r][t], wr[r][c], ad, as, asf, facc[r][t]);
    }
  }
  store_sums<R, T>(facc, y, ys);
}

template <QFormat F, int R>
void tile_rows(int tn, const GemmChunkOf<F>* const* wr, const AChunkOf<F>* const* at, int64_t nc,
               float* y, int64_t ys) {
  switch (tn) {
    case 1:
      tile<F, R, 1>(wr, at, nc, y, ys);
      break;
    case 2:
      tile<F, R, 2>(wr, at, nc, y, ys);
      break;
    default:
      tile<F, R, 3>(wr, at, nc, y, ys);
      break;
  }
}

}  // namespace

// One 4-row panel group against tokens [t0, t1): register tiles of up to 3 tokens.
template <QFormat F>
void avx512vnni_gemm_tiles(const GemmChunkOf<F>* const* wr, int rn, const uint8_t* ab,
                           size_t act_stride, int64_t t0, int64_t t1, int64_t nc, float* y,
                           int64_t ys) {
  using AC = AChunkOf<F>;
  for (int64_t t = t0; t < t1; t += kTileTokens) {
    const int tn = t1 - t < kTileTokens ? static_cast<int>(t1 - t) : kTileTokens;
    const AC* at[kTileTokens];
    for (int i = 0; i < tn; ++i) at[i] = reinterpret_cast<const AC*>(ab + (t + i) * act_stride);
    float* yt = y + t * ys;
    switch (rn) {
      case 1:
        tile_rows<F, 1>(tn, wr, at, nc, yt, ys);
        break;
      case 2:
        tile_rows<F, 2>(tn, wr, at, nc, yt, ys);
        break;
      case 3:
        tile_rows<F, 3>(tn, wr, at, nc, yt, ys);
        break;
      default:
        tile_rows<F, 4>(tn, wr, at, nc, yt, ys);
        break;
    }
  }
}

#define EDGEFIT_INSTANTIATE(F)                                                                \
  template void avx512vnni_gemm_tiles<QFormat::F>(const GemmChunkOf<QFormat::F>* const*, int, \
                                                  const uint8_t*, size_t, int64_t, int64_t,   \
                                                  int64_t, float*, int64_t);
EDGEFIT_AVX512VNNI_QFORMATS(EDGEFIT_INSTANTIATE)

}  // namespace edgefit::kernels::detail
