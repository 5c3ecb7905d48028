// Training's bf16 product table for AVX-512 (train/gemm_bf16.h): bf16 inputs widened to f32 and
// multiplied by FMAs on tiles of 8 rows × 32 columns (16 accumulators), B's column tail by masked
// loads and stores. Bit-identical to the scalar twin.
#include <immintrin.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <vector>

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

// The product runs on f32 FMAs, not vdpbf16ps: a product of two bf16 is exact in f32 (in its
// normal range), so fma(odd, odd, c) then fma(even, even, c) rounds as vdpbf16ps and the scalar
// twin do (without the instruction's flushing of denormals); and on Intel model 207 (Emerald
// Rapids, session 14) vdpbf16ps zmm ran at about a quarter of the FMA's instruction rate, i.e.
// half its multiply-adds per cycle (docs/training.md). So the inputs are widened to f32 once per
// call: A for all its rows, in tiles of kTile rows laid out [pair][row][odd, even]; B per
// 32-column panel, [pair][odd 32, even 32].
constexpr int kTile = 8;

// C[rows, 32 columns under masks m0, m1] (+)= A tile · B panel, rows <= kTile (a compile-time
// count, so the accumulators stay in registers).
template <int kRows>
void tile(int64_t k_pairs, const float* a, const float* b, float* c, int64_t ldc, __mmask16 m0,
          __mmask16 m1, bool accumulate) {
  __m512 c0[kRows], c1[kRows];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) {
    c0[r] = accumulate ? _mm512_maskz_loadu_ps(m0, c + r * ldc) : _mm512_setzero_ps();
    c1[r] = accumulate ? _mm512_maskz_loadu_ps(m1, c + r * ldc + 16) : _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < k_pairs; ++p) {
    const float* bp = b + p * 64;
    const __m512 odd0 = _mm512_load_ps(bp), odd1 = _mm512_load_ps(bp + 16);
    const __m512 even0 = _mm512_load_ps(bp + 32), even1 = _mm512_load_ps(bp + 48);
    const float* ap = a + p * 2 * kTile;
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {  // vdpbf16ps's order: the odd product first
      const __m512 xo = _mm512_set1_ps(ap[2 * r]), xe = _mm512_set1_ps(ap[2 * r + 1]);
      c0[r] = _mm512_fmadd_ps(xe, even0, _mm512_fmadd_ps(xo, odd0, c0[r]));
      c1[r] = _mm512_fmadd_ps(xe, even1, _mm512_fmadd_ps(xo, odd1, c1[r]));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, m0, c0[r]);
    _mm512_mask_storeu_ps(c + r * ldc + 16, m1, c1[r]);
  }
}

using TileFn = void (*)(int64_t, const float*, const float*, float*, int64_t, __mmask16, __mmask16,
                        bool);
constexpr TileFn kTiles[kTile + 1] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>,
                                      tile<5>, tile<6>, tile<7>, tile<8>};

// A 64-byte aligned view of a thread's buffer of at least `count` floats (kept between calls:
// the products run per weight tile, thousands of times per step).
float* aligned_buffer(std::vector<float>& buf, size_t count) {
  if (buf.size() < count + 16) buf.resize(count + 16);
  const auto addr = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + (64 - addr % 64) % 64 / sizeof(float);
}

// A [m, k_pairs] pairs as f32 tiles: out[(i / kTile · k_pairs + p) · 2 · kTile + i % kTile · 2]
// holds the odd value of pair p of row i, the next float the even one (a last tile's missing rows
// are zero). One gather per tile and pair: a 64-bit lane per row, x & 0xffff0000 in its low half
// (the odd value) and x << 16 in its high half (the even one).
void widen_a(int64_t m, int64_t k_pairs, const uint32_t* a, int64_t lda, float* out) {
  static_assert(kTile == 8, "one 8-lane gather per tile and pair");
  if (lda > INT32_MAX / kTile) {  // row offsets past the gather's 32-bit indices (never in a model)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t p = 0; p < k_pairs; ++p) {
        const uint32_t x = a[i * lda + p], odd = x & 0xffff0000u, even = x << 16;
        float* dst = out + (i / kTile * k_pairs + p) * 2 * kTile + i % kTile * 2;
        std::memcpy(dst, &odd, sizeof(float));
        std::memcpy(dst + 1, &even, sizeof(float));
      }
    return;
  }
  const __m256i rows = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                          _mm256_set1_epi32(static_cast<int>(lda)));
  const __m512i odd = _mm512_set1_epi64(0xffff0000);
  for (int64_t t = 0; t * kTile < m; ++t) {
    const int64_t left = m - t * kTile;
    const __mmask8 mask = left >= 8 ? __mmask8(0xff) : static_cast<__mmask8>((1u << left) - 1);
    const uint32_t* base = a + t * kTile * lda;
    float* dst = out + t * k_pairs * 2 * kTile;
    for (int64_t p = 0; p < k_pairs; ++p) {
      const __m256i x =
          _mm256_mmask_i32gather_epi32(_mm256_setzero_si256(), mask, rows, base + p, 4);
      const __m512i v = _mm512_cvtepu32_epi64(x);
      _mm512_store_si512(dst + p * 2 * kTile,
                         _mm512_or_si512(_mm512_and_si512(v, odd), _mm512_slli_epi64(v, 48)));
    }
  }
}

// Columns [j, j + 32) of B (masks m0, m1; zero past them) as f32: out[p · 64 + …] holds the odd
// values of pair p (32), then the even ones (32).
void widen_b_panel(int64_t k_pairs, const uint32_t* b, int64_t ldb, __mmask16 m0, __mmask16 m1,
                   float* out) {
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  for (int64_t p = 0; p < k_pairs; ++p) {
    const __m512i x0 = _mm512_maskz_loadu_epi32(m0, b + p * ldb);
    const __m512i x1 = _mm512_maskz_loadu_epi32(m1, b + p * ldb + 16);
    float* o = out + p * 64;
    _mm512_store_si512(o, _mm512_and_si512(x0, high));
    _mm512_store_si512(o + 16, _mm512_and_si512(x1, high));
    _mm512_store_si512(o + 32, _mm512_slli_epi32(x0, 16));
    _mm512_store_si512(o + 48, _mm512_slli_epi32(x1, 16));
  }
}

void nn(int64_t m, int64_t n, int64_t k_pairs, const uint32_t* a, int64_t lda, const uint32_t* b,
        int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  thread_local std::vector<float> a_buf, b_buf;
  const int64_t tiles = (m + kTile - 1) / kTile;
  float* af = aligned_buffer(a_buf, static_cast<size_t>(tiles * k_pairs * 2 * kTile));
  float* bf = aligned_buffer(b_buf, static_cast<size_t>(k_pairs * 64));
  widen_a(m, k_pairs, a, lda, af);
  // Column panels outside, row tiles inside: a widened panel of B (k_pairs × 32 columns × 2,
  // 32 KiB at 128 pairs) stays in L1 while every row tile passes over it.
  for (int64_t j = 0; j < n; j += 32) {
    const __mmask16 m0 = tail_mask(n - j), m1 = n - j > 16 ? tail_mask(n - j - 16) : 0;
    widen_b_panel(k_pairs, b + j, ldb, m0, m1, bf);
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t rows = std::min<int64_t>(kTile, m - t * kTile);
      kTiles[rows](k_pairs, af + t * k_pairs * 2 * kTile, bf, c + t * kTile * ldc + j, ldc, m0, m1,
                   accumulate);
    }
  }
}

}  // namespace

const Bf16GemmTable& bf16_gemm_table_avx512() {
  static const Bf16GemmTable table{pack_b, nn, pack_b_quant_avx512, "avx512bf16"};
  return table;
}

}  // namespace edgefit::train
