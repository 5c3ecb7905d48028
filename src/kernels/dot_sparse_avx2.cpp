// AVX2 kernels of the sparse types (kernels.h, "The sparse types"), bit-identical to the scalar
// twins in dot_sparse_scalar.cpp; registered in the AVX2 and AVX-VNNI tables (and AVX-512 without
// VBMI2), with the AVX2 Q8_K activation quantization (act_prep_avx2.cpp, byte-identical).
//
// Gather without vpcompressb: every index byte (2 groups, 8 weights) keeps exactly 4, so one
// 256-entry table of pshufb controls (4 bytes each) per index byte, fetched 8 at a time with
// vpgatherdd, picks the kept activation quants of 8 weights into 4 fixed bytes. A value block's
// 32 kept quants come out of two in-lane shuffles in the order 0-7, 16-23 | 8-15, 24-31, and its
// nibbles are unpacked into the same order, so the products pair up without a cross-lane move.
// The mask types compress each mask byte's quants with one pshufb; Q4_QMASK62 expands each mask
// byte's levels with one (below).
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
#include <cstring>

#include "core/fp16.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "kernels/panel.h"
#include "kernels/qmask_act.h"
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

// ---------------------------------------------------------------- Q4_QMASK62: pshufb expand
//
// No vpexpandb: a block's 96 levels are unpacked as level − 8 bytes (level k at byte k) into a
// ring kQAhead blocks before the block that reads them (loads at any offset right after the
// stores could not be forwarded), and each 128-bit lane expands two mask bytes (16 slots) with one
// pshufb from the 16 bytes at its first level: the controls (qmask_act.h) give a kept slot its
// level's index and a pruned one 0x80, which reads 0; + 8 makes it the level, or 8 where pruned.
// One vpmaddubsw + vpmaddwd against the activations in slot order (QMaskSlotAct) then sums each
// dword lane's 4 slots exactly, as the AVX-512 kernel's vpdpbusd: 32 slots are 8 of the 16 lanes
// of a mask word, so lanes 0-7 and 8-15 accumulate in two registers started from −8 · Σ of their
// quants, and a block ends in two conversions and two FMAs by its 4 scales (lane l: d_{l % 4}).
constexpr int kQRing = 4, kQAhead = 2;
constexpr int kLevelBytes = 128;  // 96 levels, then room for a 16-byte load at any offset ≤ 96

// A block's levels − 8 into dst (32-byte aligned): levels 0-47 are qs's low nibbles, 48-95 its
// high ones (q_sparse.h).
inline void unpack_levels(const uint8_t* qs, int8_t* dst) {
  const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));  // bytes 0-31
  const __m256i q1 =
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 32)));
  const __m256i low4 = _mm256_set1_epi8(0x0F), eight = _mm256_set1_epi8(8);
  const auto lev = [&](__m256i x) { return _mm256_sub_epi8(_mm256_and_si256(x, low4), eight); };
  _mm256_store_si256(reinterpret_cast<__m256i*>(dst), lev(q0));
  _mm_store_si128(reinterpret_cast<__m128i*>(dst + 32), _mm256_castsi256_si128(lev(q1)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 48), lev(_mm256_srli_epi16(q0, 4)));
  _mm_store_si128(reinterpret_cast<__m128i*>(dst + 80),
                  _mm256_castsi256_si128(lev(_mm256_srli_epi16(q1, 4))));
}

// The pshufb control of two mask bytes m0, m1 whose levels start at bytes 0 and p0 of the source.
inline __m128i expand_control(uint32_t m0, uint32_t p0, uint32_t m1) {
  const __m128i c0 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(&kQMaskExpand.at[0][m0]));
  return _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(c0),
                                       reinterpret_cast<const double*>(&kQMaskExpand.at[p0][m1])));
}

// 32 slots' exact dword-lane sums (8 lanes of a mask word): mask bytes m (4, little-endian)
// whose first level is lv[0], against their slot-order activation quants x.
inline __m256i group_isums(uint32_t m, const int8_t* lv, const int8_t* x) {
  const auto p0 = static_cast<uint32_t>(std::popcount(m & 0xFFu));
  const auto p01 = static_cast<uint32_t>(std::popcount(m & 0xFFFFu));
  const auto p2 = static_cast<uint32_t>(std::popcount(m & 0xFF0000u));
  const __m256i ctrl = _mm256_set_m128i(expand_control((m >> 16) & 0xFF, p2, m >> 24),
                                        expand_control(m & 0xFF, p0, (m >> 8) & 0xFF));
  const __m256i src = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lv))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(lv + p01)), 1);
  const __m256i wv = _mm256_add_epi8(_mm256_shuffle_epi8(src, ctrl), _mm256_set1_epi8(8));
  const __m256i xv = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
  return _mm256_madd_epi16(_mm256_maddubs_epi16(wv, xv), _mm256_set1_epi16(1));
}

// The exact dword-lane sums of one block: lo += lanes 0-7 of each mask word (its first 32
// slots), hi += lanes 8-15 (its last 32). Both stay in registers across the 4 words.
inline void qmask_block_isums(const BlockQ4_QMask62& blk, const int8_t* lv, const int8_t* qs,
                              __m256i& lo, __m256i& hi) {
  unsigned off = 0;  // levels before the group (≤ 96: the loader bounds the count)
#pragma GCC unroll 4
  for (int v = 0; v < 4; ++v) {
    uint64_t m;
    std::memcpy(&m, blk.mask + 8 * v, 8);
    const auto m0 = static_cast<uint32_t>(m), m1 = static_cast<uint32_t>(m >> 32);
    lo = _mm256_add_epi32(lo, group_isums(m0, lv + off, qs + 64 * v));
    off += static_cast<unsigned>(std::popcount(m0));
    hi = _mm256_add_epi32(hi, group_isums(m1, lv + off, qs + 64 * v + 32));
    off += static_cast<unsigned>(std::popcount(m1));
  }
}

// pf: bytes ahead of the block being read that the row prefetches (sparse_gemm_rows_streamed).
float dot_qmask62_pf(int64_t n, const void* w_row, const void* act_row, int64_t pf) {
  const auto* w = static_cast<const BlockQ4_QMask62*>(w_row);
  const auto* a = static_cast<const QMaskSlotAct*>(act_row);
  alignas(32) int8_t ring[kQRing][kLevelBytes];
  for (auto& r : ring)  // the bytes past 96 are loaded (never selected): defined all the same
    _mm256_store_si256(reinterpret_cast<__m256i*>(r + 96), _mm256_setzero_si256());
  const int64_t nb = n / kSparseBlock;
  for (int64_t b = 0; b < std::min<int64_t>(kQAhead, nb); ++b)
    unpack_levels(w[b].qs, ring[b % kQRing]);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};  // float lanes 0-7, 8-15
  for (int64_t b = 0; b < nb; ++b) {
    if (pf > 0) {  // two lines per 88-byte block cover the stream
      const char* ahead = reinterpret_cast<const char*>(&w[b]) + pf;
      _mm_prefetch(ahead, _MM_HINT_T0);
      _mm_prefetch(ahead + 64, _MM_HINT_T0);
    }
    if (b + kQAhead < nb) unpack_levels(w[b + kQAhead].qs, ring[(b + kQAhead) % kQRing]);
    __m256i lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(a[b].start));
    __m256i hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(a[b].start + 8));
    qmask_block_isums(w[b], ring[b % kQRing], a[b].qs, lo, hi);
    // the scalar twin's products d_q · activation d, lane l's the quarter l % 4's
    const __m128 s =
        _mm_mul_ps(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(w[b].d))),
                   _mm_set1_ps(a[b].d));
    const __m256 s8 = _mm256_set_m128(s, s);
    acc[0] = _mm256_fmadd_ps(s8, _mm256_cvtepi32_ps(lo), acc[0]);
    acc[1] = _mm256_fmadd_ps(s8, _mm256_cvtepi32_ps(hi), acc[1]);
  }
  alignas(32) float out[kLanes];
  _mm256_store_ps(out, acc[0]);
  _mm256_store_ps(out + 8, acc[1]);
  return reduce16(out);
}
float dot_qmask62(int64_t n, const void* w_row, const void* act_row) {
  return dot_qmask62_pf(n, w_row, act_row, 0);
}

// The slot-order activations: the AVX2 Q8_K quantization (byte-identical) per block, reordered.
void prep_qmask_avx2(const float* x, int64_t n, void* out) {
  prep_qmask_slot_act_via(x, n, out, prep_avx2_q8_k);
}

// The twin's entry with the kernel and the AVX2 activation quantization (byte-identical).
template <VecDotFn Dot>
FormatKernels avx2_entry(const FormatKernels& scalar_twin) {
  FormatKernels k = with_sparse_dot<Dot>(scalar_twin);
  k.prepare_act = prep_avx2_q8_k;
  return k;
}

}  // namespace

FormatKernels avx2_sparse_qmask62_kernels(const FormatKernels& scalar_twin) {
  FormatKernels k = with_sparse_dot<dot_qmask62>(scalar_twin);
  k.act_row_bytes = qmask_slot_act_bytes;  // its own activation blocks (QMaskSlotAct)
  k.prepare_act = prep_qmask_avx2;
  k.gemm = sparse_gemm_rows_streamed<dot_qmask62_pf>;  // one prefetch stream, as on AVX-512
  return k;
}
FormatKernels avx2_sparse_2of4_kernels(const FormatKernels& scalar_twin) {
  return avx2_entry<dot_2of4>(scalar_twin);
}
FormatKernels avx2_sparse_mask_kernels(const FormatKernels& scalar_twin) {
  return scalar_twin.weight_type == DType::Q4_MASK50 ? avx2_entry<dot_mask<4>>(scalar_twin)
                                                     : avx2_entry<dot_mask<3>>(scalar_twin);
}

}  // namespace edgefit::kernels::detail
