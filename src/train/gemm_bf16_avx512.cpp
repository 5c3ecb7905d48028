// Training's bf16 product table for AVX512-BF16 (train/gemm_bf16.h): vdpbf16ps on tiles of
// 8 rows × 32 columns (16 accumulators), B's column tail by masked loads and stores.
#include <immintrin.h>

#include "train/gemm_bf16.h"
#include "train/gemm_bf16_unpack.h"

namespace edgefit::train {
namespace {

// 16 floats rounded to bf16 (ties to even), kept in the high halves of their lanes, as
// bf16_bits() does one at a time.
__m512i round_bf16(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb);
  return _mm512_and_si512(r, _mm512_set1_epi32(static_cast<int>(0xffff0000u)));
}

__mmask16 tail_mask(int64_t left) {
  return left >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << left) - 1);
}

void pack_b(const float* b, int64_t k, int64_t n, int64_t ldb, uint32_t* packed) {
  for (int64_t p = 0; p < (k + 1) / 2; ++p) {
    const float* even = b + 2 * p * ldb;
    const bool has_odd = 2 * p + 1 < k;
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 mask = tail_mask(n - j);
      const __m512i lo = _mm512_srli_epi32(round_bf16(_mm512_maskz_loadu_ps(mask, even + j)), 16);
      const __m512i hi = has_odd ? round_bf16(_mm512_maskz_loadu_ps(mask, even + ldb + j))
                                 : _mm512_setzero_si512();
      _mm512_mask_storeu_epi32(packed + p * n + j, mask, _mm512_or_si512(lo, hi));
    }
  }
}

// C[rows, 32 columns under masks m0, m1] (+)= A[rows] · B, rows <= 8 (a compile-time count, so
// the accumulators stay in registers).
template <int kRows>
void tile(int64_t k_pairs, const uint32_t* a, int64_t lda, const uint32_t* b, int64_t ldb, float* c,
          int64_t ldc, __mmask16 m0, __mmask16 m1, bool accumulate) {
  __m512 c0[kRows], c1[kRows];
  for (int r = 0; r < kRows; ++r) {
    c0[r] = accumulate ? _mm512_maskz_loadu_ps(m0, c + r * ldc) : _mm512_setzero_ps();
    c1[r] = accumulate ? _mm512_maskz_loadu_ps(m1, c + r * ldc + 16) : _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < k_pairs; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_maskz_loadu_epi32(m0, b + p * ldb);
    const __m512bh b1 = (__m512bh)_mm512_maskz_loadu_epi32(m1, b + p * ldb + 16);
    for (int r = 0; r < kRows; ++r) {
      const __m512bh x = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[r * lda + p]));
      c0[r] = _mm512_dpbf16_ps(c0[r], x, b0);
      c1[r] = _mm512_dpbf16_ps(c1[r], x, b1);
    }
  }
  for (int r = 0; r < kRows; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, m0, c0[r]);
    _mm512_mask_storeu_ps(c + r * ldc + 16, m1, c1[r]);
  }
}

using TileFn = void (*)(int64_t, const uint32_t*, int64_t, const uint32_t*, int64_t, float*,
                        int64_t, __mmask16, __mmask16, bool);
constexpr TileFn kTiles[9] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>,
                              tile<5>, tile<6>, tile<7>, tile<8>};

void nn(int64_t m, int64_t n, int64_t k_pairs, const uint32_t* a, int64_t lda, const uint32_t* b,
        int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  // Column panels outside, row tiles inside: a panel of B (32 columns × k_pairs) stays in L1
  // while every row tile passes over it.
  for (int64_t j = 0; j < n; j += 32) {
    const __mmask16 m0 = tail_mask(n - j), m1 = n - j > 16 ? tail_mask(n - j - 16) : 0;
    for (int64_t i = 0; i < m; i += 8) {
      const int64_t rows = m - i < 8 ? m - i : 8;
      kTiles[rows](k_pairs, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, m0, m1, accumulate);
    }
  }
}

}  // namespace

const Bf16GemmTable& bf16_gemm_table_avx512() {
  static const Bf16GemmTable table{pack_b, nn, pack_b_quant_avx512, "avx512bf16"};
  return table;
}

}  // namespace edgefit::train
