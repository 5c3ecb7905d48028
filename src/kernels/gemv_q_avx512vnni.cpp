// AVX-512 VNNI gemv: one token against rows of any integer format (ggml's layout or repacked),
// each chunk unpacked straight into registers (unpack_avx512vnni.inc) and multiplied there; the
// table's dot and its gemm for one token (gemm_q_panel_avx512vnni.cpp) both come here.
#include "kernels/unpack_avx512vnni.inc"

namespace edgefit::kernels::detail {
namespace {

// Turns 16 exact sub-block sums x into the canonical float lane update (kernels.h).
template <QFormat F>
EDGEFIT_INLINE __m512 epilogue(__m512i x, __m512 wd, __m512 wdmin, __m512i wsc, __m512i wm,
                               __m512 ad, __m512i as, __m512 facc) {
  constexpr QFormatInfo fi = qformat_info(F);
  if constexpr (weight_offset(F) != 0) x = _mm512_sub_epi32(x, as);
  if constexpr (fi.has_scale) x = _mm512_mullo_epi32(x, wsc);
  facc = _mm512_fmadd_ps(_mm512_mul_ps(wd, ad), _mm512_cvtepi32_ps(x), facc);
  if constexpr (fi.has_min) {
    const __m512i mt = _mm512_mullo_epi32(wm, as);
    facc = _mm512_fnmadd_ps(_mm512_mul_ps(wdmin, ad), _mm512_cvtepi32_ps(mt), facc);
  }
  return facc;
}

// Gemv: one row against one token, each chunk unpacked straight into registers. Rows are walked
// one after the other so the weights stream in address order (4 interleaved rows measured 2×
// slower from DRAM: the prefetcher loses short streams), and each chunk prefetches the bytes
// kPrefetchRows rows ahead, which the hardware prefetcher alone does not keep up with.
constexpr int kPrefetchRows = 4;

// One chunk's products and epilogue, accumulated into facc. kHighInPlace: groups 4-7 hold 16 ×
// their levels (unpack_packed_nibbles), so their exact sum is 16 × the true one; it is summed in a
// chain of its own and shifted back (exact: a multiple of 16, |sum| < 2^19), once per chunk
// instead of once per group. The lane sums, and so the floats, equal the plain path's.
template <QFormat F, bool kHighInPlace = false>
EDGEFIT_INLINE __m512 gemv_chunk(const WRegsOf<F>& w, const AChunkOf<F>& ac, __m512 facc) {
  // Two chains: halves the vpdpbusd latency chain; int32 sums are exact in any order.
  __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
  __m512i x;
  if constexpr (kHighInPlace) {
    static_assert(kG<F> == 8);
#pragma GCC unroll 4
    for (int g = 0; g < 4; ++g) {
      acc0 = _mm512_dpbusd_epi32(acc0, w.q[g], _mm512_load_si512(ac.q[g]));
      acc1 = _mm512_dpbusd_epi32(acc1, w.q[g + 4], _mm512_load_si512(ac.q[g + 4]));
    }
    x = _mm512_add_epi32(acc0, _mm512_srai_epi32(acc1, 4));
  } else {
#pragma GCC unroll 8
    for (int g = 0; g < kG<F>; g += 2) {
      acc0 = _mm512_dpbusd_epi32(acc0, w.q[g], _mm512_load_si512(ac.q[g]));
      acc1 = _mm512_dpbusd_epi32(acc1, w.q[g + 1], _mm512_load_si512(ac.q[g + 1]));
    }
    x = _mm512_add_epi32(acc0, acc1);
  }
  return epilogue<F>(x, w.d, w.dmin, w.sc, w.m, _mm512_load_ps(ac.d), _mm512_load_si512(ac.sum),
                     facc);
}

// pf: bytes ahead that packed rows prefetch (kernels/prefetch.h; 0 = the hardware's alone).
template <QFormat F, bool kPacked>
EDGEFIT_INLINE float gemv_row(const uint8_t* row, size_t w_stride, int64_t n, const AChunkOf<F>* a,
                              int64_t nc, int64_t pf) {
  __m512 facc = _mm512_setzero_ps();
  // Full chunks in a loop of their own: no per-chunk "is this the last one" test (a sixth of the
  // Q4_0 loop's instructions).
  const int64_t full = n / chunk_elems(F);
  for (int64_t c = 0; c < full; ++c) {
    // Repacked rows are one stream: prefetched pf bytes ahead where that pays (Intel), left to
    // the hardware prefetcher where it does not (Zen 4); see kernels/prefetch.h.
    if constexpr (!kPacked) {
      const uint8_t* ahead = row + kPrefetchRows * w_stride + c * kChunkBytes<F>;
#pragma GCC unroll 16
      for (int off = 0; off < kChunkBytes<F>; off += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(ahead + off), _MM_HINT_T0);
      }
    } else if (pf > 0) {
      const uint8_t* ahead = row + c * kChunkBytes<F> + pf;
#pragma GCC unroll 16
      for (int off = 0; off < kChunkBytes<F>; off += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(ahead + off), _MM_HINT_T0);
      }
    }
    constexpr bool kInPlace = kHighNibblesInPlace<F, kPacked>;
    WRegsOf<F> w;
    unpack_full<F, kPacked, kInPlace>(row + c * kChunkBytes<F>, w);
    facc = gemv_chunk<F, kInPlace>(w, a[c], facc);
  }
  for (int64_t c = full; c < nc; ++c) {  // a partial last chunk
    WRegsOf<F> w;
    unpack_regs<F, kPacked>(row, n, c, w);
    facc = gemv_chunk<F>(w, a[c], facc);
  }
  return hsum(facc);
}

}  // namespace

template <QFormat F, bool kPacked>
void avx512vnni_gemv_q(int64_t n, const uint8_t* wb, size_t w_stride, int64_t n_rows,
                       const AChunkOf<F>* a, float* y) {
  const int64_t nc = n_chunks(F, n);
  const int64_t pf = kPacked ? packed_prefetch_bytes() : 0;
  for (int64_t r = 0; r < n_rows; ++r)
    y[r] = gemv_row<F, kPacked>(wb + r * w_stride, w_stride, n, a, nc, pf);
}

template <QFormat F, bool kPacked>
float avx512vnni_dot_q(int64_t n, const void* w, const void* act) {
  float y;
  avx512vnni_gemv_q<F, kPacked>(n, static_cast<const uint8_t*>(w), 0, 1,
                                static_cast<const AChunkOf<F>*>(act), &y);
  return y;
}

#define EDGEFIT_INSTANTIATE(F, kPacked)                                                          \
  template void avx512vnni_gemv_q<QFormat::F, kPacked>(int64_t, const uint8_t*, size_t, int64_t, \
                                                       const AChunkOf<QFormat::F>*, float*);     \
  template float avx512vnni_dot_q<QFormat::F, kPacked>(int64_t, const void*, const void*);
#define EDGEFIT_UNPACKED(F) EDGEFIT_INSTANTIATE(F, false)
#define EDGEFIT_PACKED(F) EDGEFIT_INSTANTIATE(F, true)
EDGEFIT_AVX512VNNI_QFORMATS(EDGEFIT_UNPACKED)
EDGEFIT_AVX512VNNI_PACKED_QFORMATS(EDGEFIT_PACKED)

}  // namespace edgefit::kernels::detail
