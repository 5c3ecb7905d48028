// Fused dequantize-to-bf16 packing for the bf16 products' B (train/gemm_bf16.h, pack_b_quant):
// the frozen weight's tile rows are dequantized block by block (AVX-512, into a block-sized f32
// buffer that stays in L1), rounded to bf16 and interleaved by row pairs, with no row-sized f32
// tile in between.
//
// Bits. Each block dequantizer computes, per weight, exactly the f32 operations of src/quant's
// dequantize_row_* in the same order (a scale product first, then times the level, then minus the
// min product). Where the compiler contracts a multiply and a subtract into an FMA the product is
// exact anyway (fp16 scale × 6-bit sub-scale × ≤5-bit level fits in 24 bits), so the fused
// packing gives the bits of dequantize_row then pack_b (tests/train/gemm_bf16_test.cpp).
#include <immintrin.h>

#include <bit>
#include <cstddef>
#include <cstring>

#include "kernels/panel.h"  // scale_min_k4, scale_q3_k: the k-quants' scale unpacking
#include "quant/block_formats.h"
#include "quant/q_sparse.h"
#include "quant/quant_traits.h"
#include "train/gemm_bf16.h"
#include "train/gemm_bf16_unpack.h"

namespace edgefit::train {
namespace {

using namespace quant;
using kernels::detail::scale_min_k4;
using kernels::detail::scale_q3_k;

// Blocks are read in place, never copied: a copy's small stores would stall the wide loads that
// follow (store forwarding), and rows of an mmapped file need not be aligned. at(p, offset) is
// the field at that offset (offsetof) of the block at p; half_at() an fp16 field as f32.
const uint8_t* at(const uint8_t* p, size_t offset) {
  return p + offset;
}
float half_at(const uint8_t* p, size_t offset) {
  uint16_t h;
  std::memcpy(&h, p + offset, sizeof h);
  return _cvtsh_ss(h);
}

// 16 bytes from p widened to 16 int32 lanes (unsigned).
__m512i u8x16(const uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// levels · scale (− min) for 16 int32 levels, as the scalar dequantizers write it.
__m512 scaled(__m512i levels, float scale) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(levels), _mm512_set1_ps(scale));
}
__m512 scaled_minus(__m512i levels, float scale, float min) {
  return _mm512_sub_ps(scaled(levels, scale), _mm512_set1_ps(min));
}

// 16 floats rounded to bf16 (ties to even) in the high halves of their lanes (bf16_bits()).
__m512i round_bf16(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb);
  return _mm512_and_si512(r, _mm512_set1_epi32(static_cast<int>(0xffff0000u)));
}

// The low nibble of each lane (a function: a namespace-scope vector would be built at start-up,
// on CPUs without AVX-512 too).
__m512i low4() {
  return _mm512_set1_epi32(15);
}

// --------------------------------------------------------------------- one block to 32/256 floats

// Q8_0: q · d (quant/q_legacy.cpp).
// (The 32-weight blocks give their two halves in registers: no buffer between the dequantizing
// and the rounding.)
void block_q8_0(const uint8_t* p, __m512& lo, __m512& hi) {
  const float d = half_at(p, offsetof(BlockQ8_0, d));
  const auto* qs = reinterpret_cast<const __m128i*>(at(p, offsetof(BlockQ8_0, qs)));
  lo = scaled(_mm512_cvtepi8_epi32(_mm_loadu_si128(qs)), d);
  hi = scaled(_mm512_cvtepi8_epi32(_mm_loadu_si128(qs + 1)), d);
}

// Q4_0: (nibble − 8) · d, low nibbles first (quant/q_legacy.cpp).
void block_q4_0(const uint8_t* p, __m512& lo, __m512& hi) {
  const float d = half_at(p, offsetof(BlockQ4_0, d));
  const __m512i q = u8x16(at(p, offsetof(BlockQ4_0, qs))), eight = _mm512_set1_epi32(8);
  lo = scaled(_mm512_sub_epi32(_mm512_and_si512(q, low4()), eight), d);
  hi = scaled(_mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight), d);
}

// Q4_K / Q5_K (with_high: the fifth bit from qh): d·sc·q − dmin·m per pair of 32-weight sub-blocks,
// low nibbles first.
template <typename Block, bool kWithHigh>
void block_k4(const uint8_t* p, float* out) {
  const float d = half_at(p, offsetof(Block, d)), min = half_at(p, offsetof(Block, dmin));
  const uint8_t* scales = at(p, offsetof(Block, scales));
  const uint8_t* qs = at(p, offsetof(Block, qs));
  for (int is = 0; is < 8; is += 2, out += 64) {
    int sc, m;
    scale_min_k4(is, scales, &sc, &m);
    const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
    scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
    const uint8_t* q = qs + 16 * is;
    for (int l = 0; l < 32; l += 16) {
      const __m512i bytes = u8x16(q + l);
      __m512i lo = _mm512_and_si512(bytes, low4()), hi = _mm512_srli_epi32(bytes, 4);
      if constexpr (kWithHigh) {
        const __m512i qh = u8x16(at(p, offsetof(Block, qh)) + l);
        const __m512i sixteen = _mm512_set1_epi32(16);
        lo = _mm512_mask_add_epi32(lo, _mm512_test_epi32_mask(qh, _mm512_set1_epi32(1 << is)), lo,
                                   sixteen);
        hi = _mm512_mask_add_epi32(hi, _mm512_test_epi32_mask(qh, _mm512_set1_epi32(2 << is)), hi,
                                   sixteen);
      }
      _mm512_storeu_ps(out + l, scaled_minus(lo, d1, m1));
      _mm512_storeu_ps(out + 32 + l, scaled_minus(hi, d2, m2));
    }
  }
}

// Q6_K: d·sc·(q − 32), four 32-weight groups per 128-weight half (quant/q_k_high.cpp).
void block_q6_k(const uint8_t* p, float* out) {
  const float d = half_at(p, offsetof(BlockQ6_K, d));
  const __m512i three = _mm512_set1_epi32(3), bias = _mm512_set1_epi32(32);
  for (int h = 0; h < 2; ++h, out += 128) {
    const uint8_t* ql = at(p, offsetof(BlockQ6_K, ql)) + 64 * h;
    const uint8_t* qh = at(p, offsetof(BlockQ6_K, qh)) + 32 * h;
    const auto* sc = reinterpret_cast<const int8_t*>(at(p, offsetof(BlockQ6_K, scales))) + 8 * h;
    for (int l = 0; l < 32; l += 16) {
      const int is = l / 16;
      const __m512i a = u8x16(ql + l), c = u8x16(ql + l + 32), hb = u8x16(qh + l);
      const auto level = [&](__m512i nib, int shift) {
        const __m512i high = _mm512_and_si512(_mm512_srli_epi32(hb, shift), three);
        return _mm512_sub_epi32(_mm512_or_si512(nib, _mm512_slli_epi32(high, 4)), bias);
      };
      _mm512_storeu_ps(out + l, scaled(level(_mm512_and_si512(a, low4()), 0), d * sc[is]));
      _mm512_storeu_ps(out + l + 32, scaled(level(_mm512_and_si512(c, low4()), 2), d * sc[is + 2]));
      _mm512_storeu_ps(out + l + 64, scaled(level(_mm512_srli_epi32(a, 4), 4), d * sc[is + 4]));
      _mm512_storeu_ps(out + l + 96, scaled(level(_mm512_srli_epi32(c, 4), 6), d * sc[is + 6]));
    }
  }
}

// Q2_K / Q3_K: weight e's two low bits sit in qs[32·(e / 128) + e % 32] at bit 2·((e % 128) / 32);
// one 16-weight sub-block at a time (quant/q_k_low.cpp).
__m512i two_bits(const uint8_t* qs, int e) {
  const __m512i q = u8x16(qs + 32 * (e / 128) + e % 32);
  return _mm512_and_si512(_mm512_srlv_epi32(q, _mm512_set1_epi32(2 * ((e % 128) / 32))),
                          _mm512_set1_epi32(3));
}

void block_q2_k(const uint8_t* p, float* out) {
  const float d = half_at(p, offsetof(BlockQ2_K, d)), min = half_at(p, offsetof(BlockQ2_K, dmin));
  const uint8_t* scales = at(p, offsetof(BlockQ2_K, scales));
  const uint8_t* qs = at(p, offsetof(BlockQ2_K, qs));
  for (int e = 0; e < 256; e += 16) {
    const uint8_t sc = scales[e / 16];
    const float dl = d * static_cast<float>(sc & 0xF), ml = min * static_cast<float>(sc >> 4);
    _mm512_storeu_ps(out + e, scaled_minus(two_bits(qs, e), dl, ml));
  }
}

void block_q3_k(const uint8_t* p, float* out) {
  const float d = half_at(p, offsetof(BlockQ3_K, d));
  const uint8_t* scales = at(p, offsetof(BlockQ3_K, scales));
  const uint8_t* qs = at(p, offsetof(BlockQ3_K, qs));
  const uint8_t* hmask = at(p, offsetof(BlockQ3_K, hmask));
  for (int e = 0; e < 256; e += 16) {
    const float dl = d * static_cast<float>(scale_q3_k(scales, e / 16));
    const __m512i low = two_bits(qs, e);
    // A clear hmask bit means minus 4.
    const __mmask16 set =
        _mm512_test_epi32_mask(u8x16(hmask + e % 32), _mm512_set1_epi32(1 << (e / 32)));
    const __m512i level = _mm512_mask_sub_epi32(low, _knot_mask16(set), low, _mm512_set1_epi32(4));
    _mm512_storeu_ps(out + e, scaled(level, dl));
  }
}

// Sparse 4-bit blocks (quant/q_sparse.h): the kept values are Q4_0 blocks, in weight order;
// vexpandps puts 16 weights' kept values at their positions (zeros elsewhere), as the scalar
// decoders do one by one. A corrupt block goes to the scalar decoder, which throws its Error.
template <int kValueBlocks>
void q4_0_values(const uint8_t* blocks, float* vals) {
  for (int b = 0; b < kValueBlocks; ++b) {
    __m512 lo, hi;
    block_q4_0(blocks + b * sizeof(BlockQ4_0), lo, hi);
    _mm512_store_ps(vals + 32 * b, lo);
    _mm512_store_ps(vals + 32 * b + 16, hi);
  }
}

template <int kCapacity, DType kType>
void block_q4_mask(const uint8_t* p, float* out) {
  using Block = BlockQ4_Mask<kCapacity>;
  const uint8_t* mask = at(p, offsetof(Block, mask));
  int kept = 0;
  for (int i = 0; i < 32; i += 8) {
    uint64_t m;
    std::memcpy(&m, mask + i, sizeof m);
    kept += std::popcount(m);
  }
  if (kept > kCapacity) return quant_traits(kType)->dequantize_row(p, out, 256);
  alignas(64) float vals[kCapacity];
  q4_0_values<kCapacity / 32>(at(p, offsetof(Block, values)), vals);
  for (int c = 0, k = 0; c < 256; c += 16) {
    uint16_t m16;
    std::memcpy(&m16, mask + c / 8, sizeof m16);
    _mm512_storeu_ps(out + c, _mm512_maskz_expandloadu_ps(m16, vals + k));
    k += std::popcount(m16);
  }
}

// 2:4: each group of 4 keeps the two positions of its nibble (p0 | p1 << 2, p0 < p1).
void block_q4_2of4(const uint8_t* p, float* out) {
  const uint8_t* idx = at(p, offsetof(BlockQ4_2of4, idx));
  alignas(64) float vals[128];
  q4_0_values<4>(at(p, offsetof(BlockQ4_2of4, values)), vals);
  for (int c = 0; c < 256; c += 16) {
    uint32_t m16 = 0;
    for (int g = 0; g < 4; ++g) {
      const int group = c / 4 + g, nib = (idx[group / 2] >> (group % 2 ? 4 : 0)) & 0xF;
      if (!valid_2of4_nibble(nib)) return quant_traits(DType::Q4_2OF4)->dequantize_row(p, out, 256);
      m16 |= ((1u << (nib & 3)) | (1u << (nib >> 2))) << (4 * g);
    }
    _mm512_storeu_ps(out + c,
                     _mm512_maskz_expandloadu_ps(static_cast<__mmask16>(m16), vals + c / 2));
  }
}

// ------------------------------------------------------------------------ rows of blocks to pairs

// The even and odd rows' 16 floats as bf16 pairs (the odd row absent: zero high halves).
__m512i pairs(__m512 even, __m512 odd, bool has_odd) {
  const __m512i lo = _mm512_srli_epi32(round_bf16(even), 16);
  return has_odd ? _mm512_or_si512(lo, round_bf16(odd)) : lo;
}

// pack_b() of rows of kBlock-weight blocks: per row pair and block, both rows' block dequantized
// into L1 buffers, then rounded and interleaved 16 columns at a time.
template <int kBlock, int kBytes, void (*kDequant)(const uint8_t*, float*)>
void pack_blocks(const uint8_t* w, int64_t row_bytes, int64_t k, int64_t n, uint32_t* packed) {
  alignas(64) float even[kBlock], odd[kBlock];
  for (int64_t p = 0; p < (k + 1) / 2; ++p) {
    const uint8_t* row = w + 2 * p * row_bytes;
    const bool has_odd = 2 * p + 1 < k;
    for (int64_t j = 0; j < n; j += kBlock) {
      kDequant(row + j / kBlock * kBytes, even);
      if (has_odd) kDequant(row + row_bytes + j / kBlock * kBytes, odd);
      uint32_t* out = packed + p * n + j;
      for (int c = 0; c < kBlock; c += 16)
        _mm512_storeu_si512(
            out + c, pairs(_mm512_load_ps(even + c),
                           has_odd ? _mm512_load_ps(odd + c) : _mm512_setzero_ps(), has_odd));
    }
  }
}

// pack_blocks() for 32-weight blocks, whose halves stay in registers.
template <int kBytes, void (*kDequant)(const uint8_t*, __m512&, __m512&)>
void pack_blocks32(const uint8_t* w, int64_t row_bytes, int64_t k, int64_t n, uint32_t* packed) {
  for (int64_t p = 0; p < (k + 1) / 2; ++p) {
    const uint8_t* row = w + 2 * p * row_bytes;
    const bool has_odd = 2 * p + 1 < k;
    for (int64_t j = 0; j < n; j += 32) {
      __m512 e_lo, e_hi, o_lo = _mm512_setzero_ps(), o_hi = _mm512_setzero_ps();
      kDequant(row + j / 32 * kBytes, e_lo, e_hi);
      if (has_odd) kDequant(row + row_bytes + j / 32 * kBytes, o_lo, o_hi);
      _mm512_storeu_si512(packed + p * n + j, pairs(e_lo, o_lo, has_odd));
      _mm512_storeu_si512(packed + p * n + j + 16, pairs(e_hi, o_hi, has_odd));
    }
  }
}

// The same block dequantizers writing f32 rows (the f32 products' tiles): out [k, n] row-major.
template <int kBlock, int kBytes, void (*kDequant)(const uint8_t*, float*)>
void rows_blocks(const uint8_t* w, int64_t row_bytes, int64_t k, int64_t n, float* out) {
  for (int64_t r = 0; r < k; ++r)
    for (int64_t j = 0; j < n; j += kBlock)
      kDequant(w + r * row_bytes + j / kBlock * kBytes, out + r * n + j);
}

template <int kBytes, void (*kDequant)(const uint8_t*, __m512&, __m512&)>
void rows_blocks32(const uint8_t* w, int64_t row_bytes, int64_t k, int64_t n, float* out) {
  for (int64_t r = 0; r < k; ++r)
    for (int64_t j = 0; j < n; j += 32) {
      __m512 lo, hi;
      kDequant(w + r * row_bytes + j / 32 * kBytes, lo, hi);
      _mm512_storeu_ps(out + r * n + j, lo);
      _mm512_storeu_ps(out + r * n + j + 16, hi);
    }
}

// Both forms of a 256-weight (k-quant) block dequantizer, and of a 32-weight one.
template <int kBytes, void (*kDequant)(const uint8_t*, float*)>
constexpr FusedUnpack k_quant{pack_blocks<256, kBytes, kDequant>,
                              rows_blocks<256, kBytes, kDequant>};
template <int kBytes, void (*kDequant)(const uint8_t*, __m512&, __m512&)>
constexpr FusedUnpack legacy{pack_blocks32<kBytes, kDequant>, rows_blocks32<kBytes, kDequant>};

FusedUnpack unpack_avx512(DType type) {
  switch (type) {
    case DType::Q4_0:
      return legacy<sizeof(BlockQ4_0), block_q4_0>;
    case DType::Q8_0:
      return legacy<sizeof(BlockQ8_0), block_q8_0>;
    case DType::Q2_K:
      return k_quant<sizeof(BlockQ2_K), block_q2_k>;
    case DType::Q3_K:
      return k_quant<sizeof(BlockQ3_K), block_q3_k>;
    case DType::Q4_K:
      return k_quant<sizeof(BlockQ4_K), block_k4<BlockQ4_K, false>>;
    case DType::Q5_K:
      return k_quant<sizeof(BlockQ5_K), block_k4<BlockQ5_K, true>>;
    case DType::Q6_K:
      return k_quant<sizeof(BlockQ6_K), block_q6_k>;
    case DType::Q4_2OF4:
      return k_quant<sizeof(BlockQ4_2of4), block_q4_2of4>;
    case DType::Q4_MASK50:
      return k_quant<sizeof(BlockQ4_Mask<128>), block_q4_mask<128, DType::Q4_MASK50>>;
    case DType::Q4_MASK62:
      return k_quant<sizeof(BlockQ4_Mask<96>), block_q4_mask<96, DType::Q4_MASK62>>;
    default:
      return {nullptr, nullptr};
  }
}

}  // namespace

PackBQuantFn pack_b_quant_avx512(DType type) {
  return unpack_avx512(type).pack;
}

DequantRowsFn dequantize_rows_avx512(DType type) {
  return unpack_avx512(type).rows;
}

}  // namespace edgefit::train
