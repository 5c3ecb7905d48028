// AVX-512 kernels of the sparse types (kernels.h, "The sparse types"), bit-identical to the
// scalar twins in dot_sparse_scalar.cpp. Compiled with VBMI and VBMI2; registered only where
// CPUID reports both (add_sparse_kernels).
//
// Both kernels lay the products of a block's value blocks out in the same 16 dword lanes (see
// "2:4, in the lane layout"), so a block reduces with two lane swaps. 2:4 gathers with
// vpmultishiftqb + two-table vpermb from activations prepared in a matching order; the mask
// types with vpcompressb per quarter through a small buffer. Q4_QMASK62's kernel is in
// dot_qmask_avx512.cpp (same flags), registered here. GCC 12's AVX-512 headers
// self-initialize "undefined" registers (GCC bug 105593): silence it for the header only, as
// common_avx512vnni.inc does.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "kernels/panel.h"
#include "kernels/prefetch.h"
#include "kernels/sparse_gemm.h"
#include "quant/q_sparse.h"

namespace edgefit::kernels::detail {

using quant::BlockQ4_0;
using quant::BlockQ8_K;

namespace {

#include "kernels/sparse_avx512.inc"
#include "kernels/sparse_lanes.inc"

// The 16 dword lanes of s, lane l holding products of value block l % 4, folded to the 4 sums
// (dwords 0-3) with two 128-bit lane swaps.
inline __m128i fold_lanes4(__m512i s) {
  s = _mm512_add_epi32(s, _mm512_shuffle_i32x4(s, s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm512_add_epi32(s, _mm512_shuffle_i32x4(s, s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_castsi512_si128(s);
}

// Per dword lane: Σ (level − 8) · quant of the 4 + 4 bytes the lane holds, levels the low (with
// g0) and high (with g1) nibbles of qb.
inline __m512i lane_products(__m512i qb, __m512i g0, __m512i g1) {
  const __m512i low4 = _mm512_set1_epi8(0x0F), eight = _mm512_set1_epi8(8);
  const __m512i lev0 = _mm512_and_si512(qb, low4);
  const __m512i lev1 = high_nibbles(qb);
  __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lev0, g0);
  s = _mm512_dpbusd_epi32(s, lev1, g1);
  __m512i o = _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, g0);
  o = _mm512_dpbusd_epi32(o, eight, g1);
  return _mm512_sub_epi32(s, o);
}

// The 4 exact integer sums of a block whose gathered quants g0, g1 and value nibbles qb are in
// the lane layout (below): Σ (level − 8) · quant per value block.
inline __m128i gathered_isums(__m512i qb, __m512i g0, __m512i g1) {
  return fold_lanes4(lane_products(qb, g0, g1));
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
  prep_avx512_q8_k(x, n, out);
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

// One 2:4 block from its parts in the lane layout: src = every qword's index bytes (read with
// shift0 / shift1), qb = the value nibbles, d = the 4 scales.
inline void block_2of4(__m512i src, __m512i shift0, __m512i shift1, __m512i qb, __m128 d,
                       const BlockQ8_K& act, __m128* lane_group) {
  const __m512i base = _mm512_load_si512(kT24.base);
  const __m512i three = _mm512_set1_epi8(3);
  // base has bits 0-1 clear, so position + base = (field & 3) | base: one vpternlogd (0xEA:
  // a & b | c) instead of an and and an add
  const __m512i at0 =
      _mm512_ternarylogic_epi32(_mm512_multishift_epi64_epi8(shift0, src), three, base, 0xEA);
  const __m512i at1 =
      _mm512_ternarylogic_epi32(_mm512_multishift_epi64_epi8(shift1, src), three, base, 0xEA);
  const int8_t* q = act.qs;
  const __m512i g0 =
      _mm512_permutex2var_epi8(_mm512_loadu_si512(q), at0, _mm512_loadu_si512(q + 64));
  const __m512i g1 =
      _mm512_permutex2var_epi8(_mm512_loadu_si512(q + 128), at1, _mm512_loadu_si512(q + 192));
  accumulate4(d, act.d, gathered_isums(qb, g0, g1), lane_group);
}

float dot_2of4(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ4_2of4*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  const __m512i idx_bytes = _mm512_load_si512(kT24.idx_bytes);
  const __m512i shift0 = _mm512_load_si512(kT24.shift0), shift1 = _mm512_load_si512(kT24.shift1);
  const __m512i qs_at = _mm512_load_si512(kT24.qs), scales_at = _mm512_load_si512(kT24.scales);
  __m128 groups[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    const auto* blk = reinterpret_cast<const uint8_t*>(&w[b]);
    // positions → gather indices (bytes 32-63 of the index load are never selected)
    const __m512i src = _mm512_permutexvar_epi8(
        idx_bytes,
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk))));
    // the 4 value blocks' nibbles in the lane layout (72 bytes from offset 32: masked tail load)
    const __m512i v0 = _mm512_loadu_si512(blk + 32);
    const __m512i v1 = _mm512_maskz_loadu_epi8(0xFF, blk + 96);
    const __m512i qb = _mm512_permutex2var_epi8(v0, qs_at, v1);
    const __m128 d = _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi8(scales_at, v0)));
    block_2of4(src, shift0, shift1, qb, d, a[b], &groups[b % 4]);
  }
  return reduce_groups(groups);
}

// ---------------------------------------------------------------- 2:4 packed: expand, no gather
//
// On PackedQ4_2of4Block rows (kernels.h) the kernel expands the weights instead of gathering the
// activations: register k of a block = vpexpandb of 32 unpacked levels under mask k, pruned
// positions filled with 8 (level 0), against the activations prepared in the same register
// order (prep_2of4_expand); vpdpbusd then sums (level + 8 or 8) · quant over every position of a
// quarter, so isum_v = that − 8 · Σ of quarter v's quants, which the preparation computes once
// per token. Per block: 2 loads and 4 nibble ops, 4 expands, 4 vpdpbusd, the two-swap reduction.

// One prepared activation block of the expand kernel: the Q8_K quants in the packed register
// order and −8 · the sum of each quarter's quants, the seed of the block's dot chain. A row of
// them is followed by one ExpandQuadScales per 4 blocks.
struct alignas(64) ActExpand {
  int8_t qs[kSparseBlock];  // byte 64k + 4l + j = quant of weight 64(l % 4) + 16k + 4(l / 4) + j
  int32_t start[4];         // −8 · Σ of the quants of weights 64v … 64v + 63
};
static_assert(sizeof(ActExpand) == 320);

// The Q8_K scales of blocks 4q … 4q + 3 in the canonical lanes of the kernel's 4-block step
// (lanes 4j … 4j + 3 = block 4q + j's, 0 past the row's last block): laid out once per token,
// one load per 4 blocks instead of 4 masked broadcasts.
struct alignas(64) ExpandQuadScales {
  float d[16];  // [4j + v]: scale of block 4q + j
};

size_t expand_act_bytes(int64_t n) {
  const int64_t nb = n / kSparseBlock;
  return static_cast<size_t>(nb) * sizeof(ActExpand) +
         static_cast<size_t>((nb + 3) / 4) * sizeof(ExpandQuadScales);
}

// vpermt2d indices of the expand order: register k, dword l = dword 4k + l / 4 of quarter l % 4,
// taken from the quarter pair (0, 1) or (2, 3) as l % 4 is odd or even.
struct TablesExpandAct {
  uint32_t at[4][16];  // [k][l]: 16 · (l % 2) + 4k + l / 4
};
constexpr TablesExpandAct make_tables_expand_act() {
  TablesExpandAct t{};
  for (int k = 0; k < 4; ++k)
    for (int l = 0; l < 16; ++l) t.at[k][l] = static_cast<uint32_t>(16 * (l % 2) + 4 * k + l / 4);
  return t;
}
alignas(64) constexpr TablesExpandAct kTExpandAct = make_tables_expand_act();

void prep_2of4_expand(const float* x, int64_t n, void* out) {
  const int64_t nb = n / kSparseBlock;
  auto* a = static_cast<ActExpand*>(out);
  auto* quads = reinterpret_cast<ExpandQuadScales*>(a + nb);
  for (int64_t b = 0; b < nb; ++b) {
    BlockQ8_K q;
    prep_avx512_q8_k(x + b * kSparseBlock, kSparseBlock, &q);
    for (int v = 0; v < 4; ++v) quads[b / 4].d[4 * (b % 4) + v] = q.d;
    __m512i r[4];  // quarter v's 64 quants
    for (int v = 0; v < 4; ++v) r[v] = _mm512_loadu_si512(q.qs + 64 * v);
    for (int k = 0; k < 4; ++k) {
      const __m512i at = _mm512_load_si512(kTExpandAct.at[k]);
      const __m512i q01 = _mm512_permutex2var_epi32(r[0], at, r[1]);
      const __m512i q23 = _mm512_permutex2var_epi32(r[2], at, r[3]);
      // lanes with l % 4 = 2 or 3 from quarters 2, 3
      _mm512_storeu_si512(a[b].qs + 64 * k, _mm512_mask_blend_epi32(0xCCCC, q01, q23));
    }
    for (int v = 0; v < 4; ++v)  // the quarter's sum from its 4 exact 16-quant sums
      a[b].start[v] =
          -8 * (q.bsums[4 * v] + q.bsums[4 * v + 1] + q.bsums[4 * v + 2] + q.bsums[4 * v + 3]);
  }
  for (int64_t b = nb; b % 4 != 0; ++b)
    for (int v = 0; v < 4; ++v) quads[b / 4].d[4 * (b % 4) + v] = 0.f;
}

// One packed 2:4 block's exact integer lane sums: lane l holds products of value block l % 4
// (the quarter offsets seed lanes 0-3, so the 4 lanes of a value block sum to its isum). One
// chain of 4 vpdpbusd: the blocks of a 4-block step are independent, so out-of-order execution
// overlaps their chains, and neither an add of two chains nor a subtraction remains.
inline __m512i block_2of4_expand(const PackedQ4_2of4Block& blk, const ActExpand& act) {
  const __m512i eight = _mm512_set1_epi8(8);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  // the seeds in lanes 0-3 (a zero-extending 128-bit load: no shuffle)
  __m512i s = _mm512_zextsi128_si512(_mm_load_si128(reinterpret_cast<const __m128i*>(act.start)));
  for (int h = 0; h < 2; ++h) {
    // 32 levels of register 2h in the low nibbles, of 2h + 1 in the high ones; each register
    // keeps exactly 32, so the expands read the low 32 bytes only
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs[h]));
    const __m256i lo = _mm256_and_si256(q, low4);
    const __m256i hi = high_nibbles(q);
    const __m512i w0 =
        _mm512_mask_expand_epi8(eight, _cvtu64_mask64(blk.mask[2 * h]), _mm512_castsi256_si512(lo));
    const __m512i w1 = _mm512_mask_expand_epi8(eight, _cvtu64_mask64(blk.mask[2 * h + 1]),
                                               _mm512_castsi256_si512(hi));
    s = _mm512_dpbusd_epi32(s, w0, _mm512_load_si512(act.qs + 128 * h));
    s = _mm512_dpbusd_epi32(s, w1, _mm512_load_si512(act.qs + 128 * h + 64));
  }
  return s;
}

// Four blocks' lane sums s[j] folded into one register, lanes 4j … 4j + 3 = block j's 4 isums:
// a 4×4 transpose-and-add of their 128-bit lanes, 6 lane shuffles for 4 blocks instead of 8.
inline __m512i fold_blocks4(const __m512i s[4]) {
  const auto halves = [](__m512i x, __m512i y) {  // [x.0+x.2, x.1+x.3, y.0+y.2, y.1+y.3]
    return _mm512_add_epi32(_mm512_shuffle_i32x4(x, y, _MM_SHUFFLE(1, 0, 1, 0)),
                            _mm512_shuffle_i32x4(x, y, _MM_SHUFFLE(3, 2, 3, 2)));
  };
  const __m512i u01 = halves(s[0], s[1]), u23 = halves(s[2], s[3]);
  return _mm512_add_epi32(_mm512_shuffle_i32x4(u01, u23, _MM_SHUFFLE(2, 0, 2, 0)),
                          _mm512_shuffle_i32x4(u01, u23, _MM_SHUFFLE(3, 1, 3, 1)));
}

// Blocks w[0] … w[cnt − 1] (cnt ≤ 4) into the 16 canonical lanes: block j's value block v in lane
// 4j + v, += (d_v · act_d) · isum_v, each lane the scalar twin's std::fma (lanes of absent blocks
// untouched). The weight scales are gathered with masked broadcasts from memory (load ports, no
// shuffle), the activation scales are one load (ExpandQuadScales).
inline __m512 quad_2of4_expand(const PackedQ4_2of4Block* w, const ActExpand* a,
                               const ExpandQuadScales& act_d, int cnt, __m512 acc) {
  __m512i s[4];
  __m256i d16 = _mm256_setzero_si256();
  for (int j = 0; j < 4; ++j) {
    if (j >= cnt) {
      s[j] = _mm512_setzero_si512();
      continue;
    }
    s[j] = block_2of4_expand(w[j], a[j]);
    d16 = _mm256_mask_broadcastq_epi64(d16, static_cast<__mmask8>(1u << j),
                                       _mm_loadl_epi64(reinterpret_cast<const __m128i*>(w[j].d)));
  }
  const __m512 sc = _mm512_mul_ps(_mm512_cvtph_ps(d16), _mm512_load_ps(act_d.d));
  const __m512 is = _mm512_cvtepi32_ps(fold_blocks4(s));
  return _mm512_mask3_fmadd_ps(sc, is, acc, static_cast<__mmask16>((1u << (4 * cnt)) - 1));
}

// pf: bytes ahead of the blocks being read that the row prefetches (kernels/prefetch.h), as the
// dense packed gemv does: one smooth stream ahead, across row ends, instead of bursts of rows.
// Inlined into the gemm (sparse_gemm_rows_streamed): a call per 8-block row cost a prologue and an
// epilogue.
inline __attribute__((always_inline)) float dot_2of4_packed_pf(int64_t n, const void* w_row,
                                                               const void* act_row, int64_t pf) {
  const auto* w = static_cast<const PackedQ4_2of4Block*>(w_row);
  const auto* a = static_cast<const ActExpand*>(act_row);
  __m512 acc = _mm512_setzero_ps();
  const int64_t nb = n / kSparseBlock;
  const auto* quads = reinterpret_cast<const ExpandQuadScales*>(a + nb);
  int64_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    prefetch_ahead<4 * sizeof(PackedQ4_2of4Block)>(&w[b], pf);
    acc = quad_2of4_expand(&w[b], &a[b], quads[b / 4], 4, acc);
  }
  if (b < nb) {
    prefetch_ahead<3 * sizeof(PackedQ4_2of4Block)>(&w[b], pf);
    acc = quad_2of4_expand(&w[b], &a[b], quads[b / 4], static_cast<int>(nb - b), acc);
  }
  return reduce16_zmm(acc);
}
// The 2:4 gemm's prefetch distance in units of packed_prefetch_bytes() (see the kernel table).
constexpr int kPf2of4 = 2;
float dot_2of4_packed(int64_t n, const void* w_row, const void* act_row) {
  return dot_2of4_packed_pf(n, w_row, act_row, 0);
}

// ---------------------------------------------------------------- masks, in the same layout
//
// vpcompressb packs the quants at the kept positions of each 64-weight quarter to the bottom of
// a register (zeros above); a quarter keeps a variable count, so its packed bytes are rotated to
// their offset in the block's gathered row (vpermb) and merged under byte masks. (Storing the
// quarters one after another into a buffer and reloading the row saves those shuffles but
// measured 1.7× slower: the reload spans several stores and cannot be forwarded.) Two constant
// vpermb then lay the 128 bytes out in the 2:4 kernel's lanes (value block v = bytes
// 32v … 32v + 31 of the row), and the reduction is the same.

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

// vpermb indices from the gathered row to the lane layout: G0 byte 4l + j = row byte
// 32(l % 4) + 4(l / 4) + j, G1 the same + 16.
struct TablesMask {
  uint8_t g0[64];  // values 0-15 of each value block
  uint8_t g1[64];  // values 16-31
};
constexpr TablesMask make_tables_mask() {
  TablesMask t{};
  for (int l = 0; l < 16; ++l)
    for (int j = 0; j < 4; ++j) {
      t.g0[4 * l + j] = static_cast<uint8_t>(32 * (l % 4) + 4 * (l / 4) + j);
      t.g1[4 * l + j] = static_cast<uint8_t>(32 * (l % 4) + 16 + 4 * (l / 4) + j);
    }
  return t;
}
alignas(64) constexpr TablesMask kTM = make_tables_mask();

// The canonical float lanes of a mask row: value block v of the row in lane v % 16. kVB = 4:
// block b's 4 products go to lanes 4(b % 4) …; kVB = 3: block b's 3 products go to lanes
// (3b + j) % 16, rotated there and added with one masked fused multiply-add (each lane the scalar
// twin's std::fma).
template <int kVB>
struct MaskLanes {
  __m128 groups[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
  __m512 vacc = _mm512_setzero_ps();  // kVB == 3: the 16 lanes
  int lane = 0;                       // kVB == 3: lane of the next value block

  // d: the block's value-block scales (lanes 0 … kVB - 1), isums their exact integer sums.
  void add(int64_t b, __m128 d, float act_d, __m128i isums) {
    if constexpr (kVB == 4) {
      accumulate4(d, act_d, isums, &groups[b % 4]);
    } else {
      const __m512i iota16 =
          _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
      const __m512i rot = _mm512_and_si512(_mm512_sub_epi32(iota16, _mm512_set1_epi32(lane)),
                                           _mm512_set1_epi32(15));
      const __m512 sc =
          _mm512_permutexvar_ps(rot, _mm512_castps128_ps512(_mm_mul_ps(d, _mm_set1_ps(act_d))));
      const __m512 is = _mm512_permutexvar_ps(rot, _mm512_castps128_ps512(_mm_cvtepi32_ps(isums)));
      const auto m = static_cast<__mmask16>((7u << lane) | (7u >> (16 - lane)));
      vacc = _mm512_mask3_fmadd_ps(sc, is, vacc, m);
      lane = (lane + 3) % kLanes;
    }
  }
  float reduce() const {
    if constexpr (kVB == 4) return reduce_groups(groups);
    alignas(64) float acc[kLanes];
    _mm512_store_ps(acc, vacc);
    return reduce16(acc);
  }
};

// kVB value blocks per block (4: Q4_MASK50, 3: Q4_MASK62), as stored.
template <int kVB>
float dot_mask(int64_t n, const void* w_row, const void* act_row) {
  using Block = BlockQ4_Mask<32 * kVB>;
  const auto* w = static_cast<const Block*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  const __m512i g0_at = _mm512_load_si512(kTM.g0), g1_at = _mm512_load_si512(kTM.g1);
  const __m512i qs_at = _mm512_load_si512(kT24.qs), scales_at = _mm512_load_si512(kT24.scales);
  constexpr int kValueBytes = kVB * static_cast<int>(sizeof(quant::BlockQ4_0));  // 72 or 54
  MaskLanes<kVB> lanes;
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    __m512i r0, r1;
    gather_mask(w[b].mask, a[b].qs, &r0, &r1);
    const __m512i x0 = _mm512_permutex2var_epi8(r0, g0_at, r1);
    const __m512i x1 = _mm512_permutex2var_epi8(r0, g1_at, r1);
    // the value blocks' nibbles (never a byte past the block: masked loads)
    const auto* vb = reinterpret_cast<const uint8_t*>(w[b].values);
    const __m512i v0 =
        _mm512_maskz_loadu_epi8(kValueBytes >= 64 ? ~0ull : (1ull << kValueBytes) - 1, vb);
    const __m512i v1 = kValueBytes > 64
                           ? _mm512_maskz_loadu_epi8((1ull << (kValueBytes - 64)) - 1, vb + 64)
                           : _mm512_setzero_si512();
    const __m512i qb = _mm512_permutex2var_epi8(v0, qs_at, v1);
    const __m128 d = _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi8(scales_at, v0)));
    lanes.add(b, d, a[b].d, gathered_isums(qb, x0, x1));
  }
  return lanes.reduce();
}

// ---------------------------------------------------------------- masks, packed: compress-store
//
// On PackedQ4_MaskBlock rows (kernels.h) each quarter's kept quants are compress-stored
// (vpcompressb to memory) one after another into a small ring of gathered rows, kMaskAhead
// blocks before the block that reads them back: reloading right after the stores cannot be
// forwarded and waits for them (measured 1.7× slower), a few blocks later the stores have left
// the store buffer. No rotations, byte masks or table permutes remain: the gathered row is
// rank-ordered, so 128-bit lane v of its two halves' two 128-bit shuffles holds value block v's
// values 0-15 (and 16-31), which is where the packed nibbles already are (lane v = value block
// v's 16 nibble bytes); each 128-bit lane then sums in two in-lane shuffles. Past a block's
// count the ring holds stale quants, against level 0 (the repacking's padding), so they add 0.
constexpr int kMaskRing = 4;  // gathered rows in the ring
constexpr int kMaskAhead =
    3;  // blocks between a row's compress-store and its reload (2: 10 % slower)

// Compress-stores the quants at a block's kept positions to dst in weight order.
inline void compress_block(const uint8_t* mask, const int8_t* qs, int8_t* dst) {
  unsigned off = 0;
  for (int c = 0; c < 4; ++c) {
    uint64_t m;
    std::memcpy(&m, mask + 8 * c, 8);
    // compressed in a register and stored whole: the next quarter's store overwrites the zeros
    // past this one's count (vpcompressb to memory measured slower)
    _mm512_storeu_si512(dst + off, _mm512_maskz_compress_epi8(m, _mm512_loadu_si512(qs + 64 * c)));
    off += static_cast<unsigned>(std::popcount(m));
  }
}

template <int kVB>
float dot_mask_packed_pf(int64_t n, const void* w_row, const void* act_row, int64_t pf) {
  const auto* w = static_cast<const PackedQ4_MaskBlock<kVB>*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  const __m512i lane0s = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  // zeroed once: bytes a block never writes (Q4_MASK62's 96-127) are then zeros, not garbage
  alignas(64) int8_t ring[kMaskRing][3 * 64] = {};  // 128 gathered quants + a full last store
  const int64_t nb = n / kSparseBlock;
  for (int64_t b = 0; b < std::min<int64_t>(kMaskAhead, nb); ++b)
    compress_block(w[b].mask, a[b].qs, ring[b % kMaskRing]);
  MaskLanes<kVB> lanes;
  for (int64_t b = 0; b < nb; ++b) {
    prefetch_ahead<sizeof(PackedQ4_MaskBlock<kVB>)>(&w[b], pf);
    if (b + kMaskAhead < nb)
      compress_block(w[b + kMaskAhead].mask, a[b + kMaskAhead].qs,
                     ring[(b + kMaskAhead) % kMaskRing]);
    const __m512i o0 = _mm512_load_si512(ring[b % kMaskRing]);
    const __m512i o1 = _mm512_load_si512(ring[b % kMaskRing] + 64);
    // lane v: values 32v … 32v + 15 (x0), 32v + 16 … 32v + 31 (x1)
    const __m512i x0 = _mm512_shuffle_i64x2(o0, o1, _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i x1 = _mm512_shuffle_i64x2(o0, o1, _MM_SHUFFLE(3, 1, 3, 1));
    const __m512i qb =
        _mm512_maskz_loadu_epi8(kVB == 4 ? ~0ull : (1ull << (16 * kVB)) - 1, w[b].qs);
    __m512i s = lane_products(qb, x0, x1);
    s = _mm512_add_epi32(s, _mm512_shuffle_epi32(s, _MM_PERM_BADC));
    s = _mm512_add_epi32(s, _mm512_shuffle_epi32(s, _MM_PERM_CDAB));
    const __m128i isums = _mm512_castsi512_si128(_mm512_permutexvar_epi32(lane0s, s));
    const __m128i d16 = _mm_maskz_loadu_epi16((1u << kVB) - 1, w[b].d);  // the kVB scales
    lanes.add(b, _mm_cvtph_ps(d16), a[b].d, isums);
  }
  return lanes.reduce();
}
template <int kVB>
float dot_mask_packed(int64_t n, const void* w_row, const void* act_row) {
  return dot_mask_packed_pf<kVB>(n, w_row, act_row, 0);
}

// Rows a gemm prefetches ahead. The sparse kernels spend more instructions per byte than the
// dense ones, so the hardware prefetcher alone falls behind when they stream from DRAM (as the
// unpacked dense gemv, gemv_q_avx512vnni.cpp); the row kPrefetchRows ahead is prefetched whole
// before each row (prefetches never fault, so past the last row is harmless).
constexpr int64_t kPrefetchRows = 4;

template <VecDotFn Dot>
void gemm_rows(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
               size_t act_stride, int64_t n_tok, float* y, int64_t y_stride) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* wr = static_cast<const uint8_t*>(w) + r * w_stride;
    for (size_t off = 0; off < w_stride; off += 64)
      _mm_prefetch(reinterpret_cast<const char*>(wr + kPrefetchRows * w_stride + off), _MM_HINT_T0);
    for (int64_t t = 0; t < n_tok; ++t)
      y[t * y_stride + r] = Dot(n, wr, static_cast<const uint8_t*>(act) + t * act_stride);
  }
}

size_t q8_k_act_bytes(int64_t n) {
  return static_cast<size_t>(n / quant::kQK_K) * sizeof(BlockQ8_K);
}
void prep_q8_k_act(const float* x, int64_t n, void* out) {
  prep_avx512_q8_k(x, n, out);
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
    case KernelSlot::kQ4_2of4x1: {
      FormatKernels k = kernels_of<dot_2of4_packed>(DType::Q4_2OF4);
      k.packing = kPackingQ4_2of4x1;
      // 4 KiB ahead on Intel (kPf2of4): Decode/Q4_2OF4 CPU time 34.0-35.4 ms at 2 KiB, 31.5-33.7
      // at 4 KiB, 31.8-33.5 at 6 KiB (session 15, shared host, 3 interleaved rounds)
      k.gemm = sparse_gemm_rows_streamed<dot_2of4_packed_pf, kPf2of4>;
      k.act_row_bytes = expand_act_bytes;  // its own activation blocks (ActExpand, scales)
      k.prepare_act = prep_2of4_expand;
      return k;
    }
    case KernelSlot::kQ4_Mask50:
      return kernels_of<dot_mask<4>>(DType::Q4_MASK50);
    case KernelSlot::kQ4_Mask50x1: {
      FormatKernels k = kernels_of<dot_mask_packed<4>>(DType::Q4_MASK50);
      k.packing = kPackingQ4_Mask50x1;
      k.gemm = sparse_gemm_rows_streamed<dot_mask_packed_pf<4>>;
      return k;
    }
    case KernelSlot::kQ4_Mask62x1: {
      FormatKernels k = kernels_of<dot_mask_packed<3>>(DType::Q4_MASK62);
      k.packing = kPackingQ4_Mask62x1;
      k.gemm = sparse_gemm_rows_streamed<dot_mask_packed_pf<3>>;
      return k;
    }
    case KernelSlot::kQ4_QMask62:
      return avx512_qmask62_kernels();  // dot_qmask_avx512.cpp
    case KernelSlot::kQ4_QMask62x1:
      return avx512_qmask62_packed_kernels();  // dot_qmask_avx512.cpp
    default:
      return kernels_of<dot_mask<3>>(DType::Q4_MASK62);
  }
}

}  // namespace edgefit::kernels::detail
