// AVX-512 kernels of the sparse types (kernels.h, "The sparse types"), bit-identical to the
// scalar twins in dot_sparse_scalar.cpp. Compiled with VBMI and VBMI2; registered only where
// CPUID reports both (add_sparse_kernels).
//
// Gather, 2:4: every 128 weights keep exactly 64, one 512-bit operand of 2 value blocks, picked
// by one two-table vpermb whose indices vpmultishiftqb reads out of the index nibbles. Masks:
// vpcompressb packs the activation quants at the kept positions of each 64-weight quarter to the
// bottom of a register (zeros above); a quarter keeps a variable count, so its packed bytes are
// rotated to their offset in the block's gathered row (vpermb) and merged with byte masks, never
// through memory (a store-reload of overlapping pieces would stall on store forwarding). Dot:
// vpdpbusd of the value levels (0..15) with the gathered quants, minus vpdpbusd of 8 with them (the
// Q4_0 offset), 8 dwords per value block, summed in-register. GCC 12's AVX-512 headers
// self-initialize "undefined" registers (GCC bug 105593): silence it for the header only, as
// dot_avx512vnni.cpp does.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <bit>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "kernels/panel.h"
#include "quant/q_sparse.h"

namespace edgefit::kernels::detail {

using quant::BlockQ4_0;
using quant::BlockQ8_K;

namespace {

// A block's value blocks (v = 3 or 4 of them, 18 bytes each: fp16 d, then 16 bytes of nibbles)
// as vpdpbusd operands: *lev01 = levels of value blocks 0 and 1, *lev23 of 2 and 3 (each 32 bytes:
// values 0..15 from the low nibbles, then 16..31 from the high ones), *d = their 4 scales. Two
// byte permutes gather the nibble bytes (each twice), one variable shift picks low or high.
template <int kVB>
inline void unpack_values(const quant::BlockQ4_0* values, __m512i* lev01, __m512i* lev23,
                          __m128* d) {
  // byte i of the permute = byte index into values[0 … 63] (< 64) or values[64 … 71] (≥ 64)
  alignas(64) static constexpr uint8_t kQs01[64] = {
      2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 2,  3,  4,  5,  6,  7,
      8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
      32, 33, 34, 35, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35};
  alignas(64) static constexpr uint8_t kQs23[64] = {
      38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 38, 39, 40, 41, 42, 43,
      44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67,
      68, 69, 70, 71, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71};
  alignas(64) static constexpr uint8_t kScales[64] = {0, 1, 18, 19, 36, 37, 54, 55};
  const auto* bytes = reinterpret_cast<const uint8_t*>(values);
  constexpr int kBytes = kVB * static_cast<int>(sizeof(quant::BlockQ4_0));  // 72 or 54
  // Masked loads: never a byte past the block (the last block of a tensor may end its mapping).
  const __m512i a = _mm512_maskz_loadu_epi8(kBytes >= 64 ? ~0ull : (1ull << kBytes) - 1, bytes);
  const __m512i b =
      kBytes > 64 ? _mm512_maskz_loadu_epi8((1ull << (kBytes - 64)) - 1, bytes + 64) : a;
  // 16-bit shift counts: 0 in the 128-bit lanes of low nibbles (0 and 2), 4 in the high ones
  const __m512i shifts = _mm512_set_epi64(0x0004000400040004, 0x0004000400040004, 0, 0,
                                          0x0004000400040004, 0x0004000400040004, 0, 0);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i q01 = _mm512_permutexvar_epi8(_mm512_load_si512(kQs01), a);
  const __m512i q23 = _mm512_permutex2var_epi8(a, _mm512_load_si512(kQs23), b);
  *lev01 = _mm512_and_si512(_mm512_srlv_epi16(q01, shifts), low4);
  *lev23 = _mm512_and_si512(_mm512_srlv_epi16(q23, shifts), low4);
  *d = _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi8(_mm512_load_si512(kScales), a)));
}

// Signed products of 2 value blocks' levels with their 64 gathered quants: dwords 0..7 sum to
// the first value block's isum, dwords 8..15 to the second's (level − 8: the Q4_0 offset).
inline __m512i dot2(__m512i lev, __m512i acts) {
  const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lev, acts);
  const __m512i o = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), acts);
  return _mm512_sub_epi32(s, o);
}

// The isums of 4 value blocks from dot2(v0, v1) and dot2(v2, v3), in dwords 0..3.
inline __m128i hsum4(__m512i x, __m512i y) {
  const __m512i p = _mm512_shuffle_i32x4(x, y, _MM_SHUFFLE(2, 0, 2, 0));
  const __m512i q = _mm512_shuffle_i32x4(x, y, _MM_SHUFFLE(3, 1, 3, 1));
  __m512i s = _mm512_add_epi32(p, q);  // 128-bit lane k: value block k
  s = _mm512_add_epi32(s, _mm512_shuffle_epi32(s, static_cast<_MM_PERM_ENUM>(0x4E)));
  s = _mm512_add_epi32(s, _mm512_shuffle_epi32(s, static_cast<_MM_PERM_ENUM>(0xB1)));
  return _mm512_castsi512_si128(_mm512_maskz_compress_epi32(0x1111, s));
}

// The 64 kept activation quants of half h of a 2:4 block (weights 128h … 128h + 127, index bytes
// 16h … 16h + 15), in weight order. Output byte o (group o / 2, its position p0 or p1 by o % 2)
// takes quant 4·(o / 2) + p of the half: vpmultishiftqb pulls each output's 2-bit position out
// of the index bytes (broadcast so that every output qword sees the 16 nibbles it needs), and
// one two-table vpermb gathers. Both are one port-5 uop, against 2 per vpcompressb.
inline __m512i gather_2of4_half(const uint8_t* idx, const int8_t* qs) {
  // bit offset of output byte j of qword k in its source qword: 16(k % 4) + 4(j / 2) + 2(j % 2)
  alignas(64) static constexpr uint8_t kShift[64] = {
      0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42,
      44, 46, 48, 50, 52, 54, 56, 58, 60, 62, 0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22,
      24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62};
  // 4·(o / 2): the first quant of output o's group within the half's 128
  alignas(64) static constexpr uint8_t kBase[64] = {
      0,  0,  4,   4,   8,   8,   12,  12,  16,  16,  20,  20,  24,  24,  28,  28,
      32, 32, 36,  36,  40,  40,  44,  44,  48,  48,  52,  52,  56,  56,  60,  60,
      64, 64, 68,  68,  72,  72,  76,  76,  80,  80,  84,  84,  88,  88,  92,  92,
      96, 96, 100, 100, 104, 104, 108, 108, 112, 112, 116, 116, 120, 120, 124, 124};
  int64_t q0, q1;
  std::memcpy(&q0, idx, 8);
  std::memcpy(&q1, idx + 8, 8);
  const __m512i src = _mm512_mask_set1_epi64(_mm512_set1_epi64(q0), 0xF0, q1);
  const __m512i pos = _mm512_and_si512(_mm512_multishift_epi64_epi8(_mm512_load_si512(kShift), src),
                                       _mm512_set1_epi8(3));
  const __m512i at = _mm512_add_epi8(pos, _mm512_load_si512(kBase));
  return _mm512_permutex2var_epi8(_mm512_loadu_si512(qs), at, _mm512_loadu_si512(qs + 64));
}

// lanes 4(b % 4) … 4(b % 4) + 3 of the canonical order hold value blocks 4b … 4b + 3.
inline void accumulate4(__m128 d, float act_d, __m128i isums, __m128* lane_group) {
  const __m128 s = _mm_mul_ps(d, _mm_set1_ps(act_d));
  *lane_group = _mm_fmadd_ps(s, _mm_cvtepi32_ps(isums), *lane_group);
}

inline float reduce_groups(const __m128 g[4]) {
  alignas(16) float lanes[kLanes];
  for (int i = 0; i < 4; ++i) _mm_store_ps(lanes + 4 * i, g[i]);
  return reduce16(lanes);
}

float dot_2of4(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ4_2of4*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  __m128 groups[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    __m512i lev01, lev23;
    __m128 d;
    unpack_values<4>(w[b].values, &lev01, &lev23, &d);
    const __m512i x = dot2(lev01, gather_2of4_half(w[b].idx, a[b].qs));
    const __m512i y = dot2(lev23, gather_2of4_half(w[b].idx + 16, a[b].qs + 128));
    accumulate4(d, a[b].d, hsum4(x, y), &groups[b % 4]);
  }
  return reduce_groups(groups);
}

// The gathered quants of a mask block: positions 0..63 in *lo, 64..127 in *hi (zeros past the
// block's count, which the loader bounds by the capacity ≤ 128).
inline void gather_mask(const uint8_t* mask, const int8_t* qs, __m512i* lo, __m512i* hi) {
  alignas(64) static constexpr uint8_t kIota[64] = {
      0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
      22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
      44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};
  const __m512i iota = _mm512_load_si512(kIota);
  __m512i o0 = _mm512_setzero_si512(), o1 = _mm512_setzero_si512();
  unsigned off = 0;
  for (int c = 0; c < 4; ++c) {
    uint64_t m;
    std::memcpy(&m, mask + 8 * c, 8);
    const __m512i piece = _mm512_maskz_compress_epi8(m, _mm512_loadu_si512(qs + 64 * c));
    // piece byte j → gathered position off + j: rotate by off, then keep positions ≥ off
    const __m512i rot = _mm512_permutexvar_epi8(
        _mm512_sub_epi8(iota, _mm512_set1_epi8(static_cast<char>(off & 63))), piece);
    const uint64_t m0 = off < 64 ? ~0ull << off : 0;
    const uint64_t m1 = off == 0    ? 0
                        : off < 64  ? ~0ull >> (64 - off)
                        : off < 128 ? ~0ull << (off - 64)
                                    : 0;
    o0 = _mm512_mask_mov_epi8(o0, m0, rot);
    o1 = _mm512_mask_mov_epi8(o1, m1, rot);
    off += static_cast<unsigned>(std::popcount(m));
  }
  *lo = o0;
  *hi = o1;
}

float dot_mask50(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ4_Mask50*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  __m128 groups[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    __m512i lo, hi;
    gather_mask(w[b].mask, a[b].qs, &lo, &hi);
    __m512i lev01, lev23;
    __m128 d;
    unpack_values<4>(w[b].values, &lev01, &lev23, &d);
    accumulate4(d, a[b].d, hsum4(dot2(lev01, lo), dot2(lev23, hi)), &groups[b % 4]);
  }
  return reduce_groups(groups);
}

// 3 value blocks per block: value block v = 3b + j goes to lane v % 16, one fused step each.
float dot_mask62(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ4_Mask62*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  float acc[kLanes] = {};
  int lane = 0;
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    __m512i lo, hi;
    gather_mask(w[b].mask, a[b].qs, &lo, &hi);  // hi: positions 96..127 are zeros
    __m512i lev01, lev23;
    __m128 d;
    unpack_values<3>(w[b].values, &lev01, &lev23, &d);  // lev23: value block 2, then garbage
    alignas(16) int32_t isum[4];
    alignas(16) float scale[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(isum), hsum4(dot2(lev01, lo), dot2(lev23, hi)));
    _mm_store_ps(scale, _mm_mul_ps(d, _mm_set1_ps(a[b].d)));
    for (int j = 0; j < 3; ++j) {
      const float s = scale[j];
      acc[lane] = std::fma(s, static_cast<float>(isum[j]), acc[lane]);
      lane = (lane + 1) % kLanes;
    }
  }
  return reduce16(acc);
}

template <VecDotFn Dot>
void gemm_rows(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
               size_t act_stride, int64_t n_tok, float* y, int64_t y_stride) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const void* wr = static_cast<const uint8_t*>(w) + r * w_stride;
    for (int64_t t = 0; t < n_tok; ++t)
      y[t * y_stride + r] = Dot(n, wr, static_cast<const uint8_t*>(act) + t * act_stride);
  }
}

size_t q8_k_act_bytes(int64_t n) {
  return static_cast<size_t>(n / quant::kQK_K) * sizeof(BlockQ8_K);
}
void prep_q8_k_act(const float* x, int64_t n, void* out) {
  quantize_act_q8_k(x, static_cast<BlockQ8_K*>(out), n);
}

template <VecDotFn Dot>
FormatKernels kernels_of(DType t) {
  return {t, 0, DType::Q8_K, kSparseBlock, q8_k_act_bytes, prep_q8_k_act, Dot, gemm_rows<Dot>};
}

}  // namespace

FormatKernels avx512_sparse_kernels(KernelSlot slot) {
  switch (slot) {
    case KernelSlot::kQ4_2of4:
      return kernels_of<dot_2of4>(DType::Q4_2OF4);
    case KernelSlot::kQ4_Mask50:
      return kernels_of<dot_mask50>(DType::Q4_MASK50);
    default:
      return kernels_of<dot_mask62>(DType::Q4_MASK62);
  }
}

}  // namespace edgefit::kernels::detail
