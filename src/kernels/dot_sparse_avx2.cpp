// AVX2 kernels of the sparse types (kernels.h, "The sparse types"), bit-identical to the scalar
// twins in dot_sparse_scalar.cpp; registered in the AVX2 and AVX-VNNI tables (and AVX-512 without
// VBMI2), with the AVX2 Q8_K activation quantization (act_prep_avx2.cpp, byte-identical).
//
// Gather without vpcompressb: every index byte (2 groups, 8 weights) keeps exactly 4, so one
// 256-entry table of pshufb controls (4 bytes each) per index byte, fetched 8 at a time with
// vpgatherdd, picks the kept activation quants of 8 weights into 4 fixed bytes. A value block's
// 32 kept quants come out of two in-lane shuffles in the order 0-7, 16-23 | 8-15, 24-31, and its
// nibbles are unpacked into the same order, so the products pair up without a cross-lane move.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

#include "core/fp16.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "kernels/panel.h"
#include "kernels/sparse_controls.h"
#include "kernels/sparse_gemm.h"
#include "quant/q_sparse.h"

namespace edgefit::kernels::detail {

using quant::BlockQ8_K;

namespace {

#include "kernels/sparse_lanes.inc"

constexpr const std::array<uint32_t, 256>& kControls = k2of4Controls;  // sparse_controls.h

// The 32 kept activation quants of value block j of a block (weights 64j … 64j + 63), in the
// order 0-7, 16-23 | 8-15, 24-31.
inline __m256i gather32(const uint8_t* idx, const int8_t* qs) {
  const __m256i k = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(idx)));
  const __m256i c = _mm256_i32gather_epi32(reinterpret_cast<const int*>(kControls.data()), k, 4);
  // per 128-bit lane: the controls of 2 index bytes (16 weights), the second offset by 8
  const __m256i off = _mm256_setr_epi32(0, 0x08080808, 0, 0, 0, 0x08080808, 0, 0);
  const __m256i c0 = _mm256_add_epi32(
      _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(0, 1, 0, 0, 2, 3, 0, 0)), off);
  const __m256i c1 = _mm256_add_epi32(
      _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(4, 5, 0, 0, 6, 7, 0, 0)), off);
  const __m256i r0 =
      _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs)), c0);
  const __m256i r1 =
      _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32)), c1);
  return _mm256_unpacklo_epi64(r0, r1);
}

// The isum terms of one value block: 8 dwords summing to Σ (level − 8) · quant.
inline __m256i dot32(const quant::BlockQ4_0& v, __m256i acts) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v.qs));
  const __m128i m = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(q, m), hi = _mm_and_si128(_mm_srli_epi16(q, 4), m);
  const __m256i lev = _mm256_set_m128i(_mm_unpackhi_epi64(lo, hi), _mm_unpacklo_epi64(lo, hi));
  const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(lev, acts),
                                     _mm256_maddubs_epi16(_mm256_set1_epi8(8), acts));
  return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

// The 4 value blocks' exact sums from their 8-dword partial sums.
inline __m128i hsum4(const __m256i s[4]) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

float dot_2of4(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ4_2of4*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  __m128 groups[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    __m256i s[4];
    for (int j = 0; j < 4; ++j)
      s[j] = dot32(w[b].values[j], gather32(w[b].idx + 8 * j, a[b].qs + 64 * j));
    const __m128i isums = hsum4(s);
    const __m128i d = _mm_setr_epi16(
        static_cast<short>(w[b].values[0].d), static_cast<short>(w[b].values[1].d),
        static_cast<short>(w[b].values[2].d), static_cast<short>(w[b].values[3].d), 0, 0, 0, 0);
    accumulate4(_mm_cvtph_ps(d), a[b].d, isums, &groups[b % 4]);
  }
  return reduce_groups(groups);
}

// ---------------------------------------------------------------- masks: pshufb per mask byte
//
// No compress instruction: each mask byte's kept quants are packed to the front of its 8 by one
// pshufb (kCompress8Controls) and stored at the running offset into a ring of gathered rows,
// kMaskAhead blocks before the block that reloads them (a reload right after 8-byte stores it
// spans cannot be forwarded). The gathered row is zeroed first, so past the count it holds
// zeros, as the scalar twin's.
constexpr int kMaskRing = 4, kMaskAhead = 2;
constexpr int kGatheredBytes = 128 + 32;  // capacity + the last 8-byte store, in whole 32s

template <int kCapacity>
inline void gather_mask_block(const uint8_t* mask, const int8_t* qs, int8_t* dst) {
  for (int i = 0; i < kCapacity; i += 32)
    _mm256_store_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_setzero_si256());
  unsigned off = 0;
  for (int i = 0; i < kSparseBlock / 8; ++i) {
    const __m128i x = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs + 8 * i));
    const __m128i c =
        _mm_loadl_epi64(reinterpret_cast<const __m128i*>(&kCompress8Controls[mask[i]]));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + off), _mm_shuffle_epi8(x, c));
    off += static_cast<unsigned>(std::popcount(mask[i]));
  }
}

template <int kVB>
float dot_mask(int64_t n, const void* w_row, const void* act_row) {
  using Block = BlockQ4_Mask<32 * kVB>;
  const auto* w = static_cast<const Block*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  alignas(32) int8_t ring[kMaskRing][kGatheredBytes];
  const int64_t nb = n / kSparseBlock;
  for (int64_t b = 0; b < std::min<int64_t>(kMaskAhead, nb); ++b)
    gather_mask_block<32 * kVB>(w[b].mask, a[b].qs, ring[b % kMaskRing]);
  float lanes[kLanes] = {};
  int64_t v = 0;  // value block of the row: lane v % 16
  for (int64_t b = 0; b < nb; ++b) {
    if (b + kMaskAhead < nb)
      gather_mask_block<32 * kVB>(w[b + kMaskAhead].mask, a[b + kMaskAhead].qs,
                                  ring[(b + kMaskAhead) % kMaskRing]);
    __m256i s[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                    _mm256_setzero_si256()};
    for (int j = 0; j < kVB; ++j) {
      const __m256i x =
          _mm256_load_si256(reinterpret_cast<const __m256i*>(ring[b % kMaskRing] + 32 * j));
      // dot32's order: kept values 0-7, 16-23 | 8-15, 24-31
      s[j] = dot32(w[b].values[j], _mm256_permute4x64_epi64(x, _MM_SHUFFLE(3, 1, 2, 0)));
    }
    alignas(16) int32_t isum[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(isum), hsum4(s));
    for (int j = 0; j < kVB; ++j, ++v) {  // the scalar twin's float steps, one fma each
      float& lane = lanes[v % kLanes];
      lane = std::fma(fp16_to_fp32(w[b].values[j].d) * a[b].d, static_cast<float>(isum[j]), lane);
    }
  }
  return reduce16(lanes);
}

// The twin's entry with the kernel and the AVX2 activation quantization (byte-identical).
template <VecDotFn Dot>
FormatKernels avx2_entry(const FormatKernels& scalar_twin) {
  FormatKernels k = with_sparse_dot<Dot>(scalar_twin);
  k.prepare_act = prep_avx2_q8_k;
  return k;
}

}  // namespace

FormatKernels avx2_sparse_2of4_kernels(const FormatKernels& scalar_twin) {
  return avx2_entry<dot_2of4>(scalar_twin);
}
FormatKernels avx2_sparse_mask_kernels(const FormatKernels& scalar_twin) {
  return scalar_twin.weight_type == DType::Q4_MASK50 ? avx2_entry<dot_mask<4>>(scalar_twin)
                                                     : avx2_entry<dot_mask<3>>(scalar_twin);
}

}  // namespace edgefit::kernels::detail
