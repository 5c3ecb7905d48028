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

// ---------------------------------------------------------------- 2:4, in the lane layout
//
// The products of a block's 4 value blocks are laid out so that 16 dword lanes need no
// horizontal shuffles: lane l holds value block l % 4, values 4k … 4k + 3 with k = l / 4 (in G0)
// and 16 + 4k … 16 + 4k + 3 (in G1), so G0 + G1 and two 128-bit lane swaps leave the 4 exact
// integer sums in dwords 0-3. The activations are prepared in a matching order (prep_2of4: per
// block the quants of weights 0-31, 64-95, 128-159, 192-223 first, then the other halves), so
// both halves gather with one two-table vpermb each from 128 contiguous bytes. The gather
// indices read the 2-bit positions out of the index bytes with vpmultishiftqb after one vpermb
// has put, in every qword, the index bytes its two lanes need.

// Q8_K activations with each block's quants reordered for the 2:4 kernel (see above).
void prep_2of4(const float* x, int64_t n, void* out) {
  quantize_act_q8_k(x, static_cast<BlockQ8_K*>(out), n);
  auto* blocks = static_cast<BlockQ8_K*>(out);
  for (int64_t b = 0; b < n / quant::kQK_K; ++b) {
    int8_t q[quant::kQK_K];
    std::memcpy(q, blocks[b].qs, sizeof q);
    for (int half = 0; half < 2; ++half)
      for (int v = 0; v < 4; ++v)
        std::memcpy(blocks[b].qs + 128 * half + 32 * v, q + 64 * v + 32 * half, 32);
  }
}

// Byte tables of the 2:4 kernel, built at compile time.
struct Tables2of4 {
  uint8_t idx_bytes[64];  // vpermb: qword m = lanes 2m, 2m+1 (value blocks v, v + 1 = 2m % 4,
                          // k = m / 2): bytes 8v + k, 8v + 8 + k (G0), 8v + 4 + k, 8v + 12 + k (G1)
  uint8_t shift0[64];     // vpmultishiftqb bit offsets of G0's positions: lane 2m: byte 0's bits
                          // 0, 2, 4, 6; lane 2m + 1: byte 1's (8 … 14)
  uint8_t shift1[64];     // G1's: bytes 2 and 3 of the qword (16 … 30)
  uint8_t base[64];       // 32v + 8k + 4·(j / 2): the first quant of output byte j's group
  uint8_t qs[64];         // vpermb over the values: byte j of lane l = qs byte 4k + j of value
                          // block v (at 18v + 2 in the block's values)
  uint8_t scales[64];     // vpermb: the 4 fp16 scales (bytes 0-7)
};
constexpr Tables2of4 make_tables_2of4() {
  Tables2of4 t{};
  for (int l = 0; l < 16; ++l) {
    const int v = l % 4, k = l / 4;
    for (int j = 0; j < 4; ++j) {
      const int o = 4 * l + j;
      t.shift0[o] = static_cast<uint8_t>(8 * (l % 2) + 2 * j);
      t.shift1[o] = static_cast<uint8_t>(16 + 8 * (l % 2) + 2 * j);
      t.base[o] = static_cast<uint8_t>(32 * v + 8 * k + 4 * (j / 2));
      t.qs[o] = static_cast<uint8_t>(18 * v + 2 + 4 * k + j);
    }
  }
  for (int m = 0; m < 8; ++m) {
    const int v = (2 * m) % 4, k = m / 2;
    t.idx_bytes[8 * m + 0] = static_cast<uint8_t>(8 * v + k);
    t.idx_bytes[8 * m + 1] = static_cast<uint8_t>(8 * v + 8 + k);
    t.idx_bytes[8 * m + 2] = static_cast<uint8_t>(8 * v + 4 + k);
    t.idx_bytes[8 * m + 3] = static_cast<uint8_t>(8 * v + 12 + k);
  }
  const uint8_t sc[8] = {0, 1, 18, 19, 36, 37, 54, 55};
  for (int j = 0; j < 8; ++j) t.scales[j] = sc[j];
  return t;
}
alignas(64) constexpr Tables2of4 kT24 = make_tables_2of4();

float dot_2of4(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ4_2of4*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  const __m512i idx_bytes = _mm512_load_si512(kT24.idx_bytes);
  const __m512i shift0 = _mm512_load_si512(kT24.shift0), shift1 = _mm512_load_si512(kT24.shift1);
  const __m512i base = _mm512_load_si512(kT24.base), qs_at = _mm512_load_si512(kT24.qs);
  const __m512i scales_at = _mm512_load_si512(kT24.scales);
  const __m512i three = _mm512_set1_epi8(3), low4 = _mm512_set1_epi8(0x0F),
                eight = _mm512_set1_epi8(8);
  __m128 groups[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    const auto* blk = reinterpret_cast<const uint8_t*>(&w[b]);
    // positions → gather indices (bytes 32-63 of the index load are never selected)
    const __m512i src = _mm512_permutexvar_epi8(
        idx_bytes,
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk))));
    const __m512i at0 =
        _mm512_add_epi8(_mm512_and_si512(_mm512_multishift_epi64_epi8(shift0, src), three), base);
    const __m512i at1 =
        _mm512_add_epi8(_mm512_and_si512(_mm512_multishift_epi64_epi8(shift1, src), three), base);
    const int8_t* q = a[b].qs;
    const __m512i g0 =
        _mm512_permutex2var_epi8(_mm512_loadu_si512(q), at0, _mm512_loadu_si512(q + 64));
    const __m512i g1 =
        _mm512_permutex2var_epi8(_mm512_loadu_si512(q + 128), at1, _mm512_loadu_si512(q + 192));
    // the 4 value blocks' nibbles in the lane layout (72 bytes from offset 32: masked tail load)
    const __m512i v0 = _mm512_loadu_si512(blk + 32);
    const __m512i v1 = _mm512_maskz_loadu_epi8(0xFF, blk + 96);
    const __m512i qb = _mm512_permutex2var_epi8(v0, qs_at, v1);
    const __m512i lev0 = _mm512_and_si512(qb, low4);
    const __m512i lev1 = _mm512_and_si512(_mm512_srli_epi16(qb, 4), low4);
    __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lev0, g0);
    s = _mm512_dpbusd_epi32(s, lev1, g1);
    __m512i o = _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, g0);
    o = _mm512_dpbusd_epi32(o, eight, g1);
    s = _mm512_sub_epi32(s, o);
    s = _mm512_add_epi32(s, _mm512_shuffle_i32x4(s, s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm512_add_epi32(s, _mm512_shuffle_i32x4(s, s, _MM_SHUFFLE(2, 3, 0, 1)));
    const __m128 d = _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi8(scales_at, v0)));
    accumulate4(d, a[b].d, _mm512_castsi512_si128(s), &groups[b % 4]);
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
    case KernelSlot::kQ4_2of4: {
      FormatKernels k = kernels_of<dot_2of4>(DType::Q4_2OF4);
      k.prepare_act = prep_2of4;  // its own quant order (the lane layout above)
      return k;
    }
    case KernelSlot::kQ4_Mask50:
      return kernels_of<dot_mask50>(DType::Q4_MASK50);
    default:
      return kernels_of<dot_mask62>(DType::Q4_MASK62);
  }
}

}  // namespace edgefit::kernels::detail
