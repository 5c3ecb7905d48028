// The AVX-512 kernel of Q4_QMASK62 (kernels.h, "The sparse types"), bit-identical to the scalar
// twin ref_dot_q4_qmask62 (dot_sparse_scalar.cpp). Compiled with VBMI and VBMI2 as
// dot_sparse_avx512.cpp, whose avx512_sparse_kernels registers it where CPUID reports both. GCC
// 12's AVX-512 headers self-initialize "undefined" registers (GCC bug 105593): silence it for the
// header only, as common_avx512vnni.inc does.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <bit>
#include <cstring>

#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "kernels/panel.h"
#include "kernels/prefetch.h"
#include "kernels/qmask_act.h"
#include "kernels/sparse_gemm.h"
#include "quant/q_sparse.h"

namespace edgefit::kernels::detail {

using quant::BlockQ8_K;

namespace {

#include "kernels/sparse_avx512.inc"

// Nothing is gathered: each 64-slot mask word's levels, unpacked to bytes a few blocks ahead (a
// ring, below), are placed by one vpexpandb from memory at the running count of levels before the
// word, at the word's kept slots with 8 elsewhere, and one vpdpbusd against the activations
// prepared in slot order (QMaskSlotAct) adds dword lane l = Σ (level − 8) · quant of slots
// 64w + 4l … 64w + 4l + 3, all weights of quarter l % 4 (q_sparse.h). The 4 words accumulate in
// integer registers started from −8 · Σ of each lane's 16 quants, so a block costs one
// conversion and one FMA by its 4 scales broadcast to lanes l % 4 (kernels.h, the canonical
// order). Per block: 1 masked load, 2 nibble ops and 2 stores (the unpacking), per word a
// vpexpandb and a vpdpbusd, then a conversion and an FMA.

// The activations are prepared once per token in slot order with the −8 · Σ lane starts
// (QMaskSlotAct, kernels/qmask_act.h: the layout the AVX2 and NEON kernels read too), from the
// AVX-512 Q8_K quantization (byte-identical to the scalar one).
void prep_qmask(const float* x, int64_t n, void* out) {
  prep_qmask_slot_act_via(x, n, out, prep_avx512_q8_k);
}

// Unpacked levels of the blocks kLevelsAhead before the one being read (a ring, as the packed
// mask kernels' gathered rows): each word's levels then start at a byte address, and one
// vpexpandb from memory places them, without the vpermt2b (and its table row) that brought them
// to a register's start. Reloading right after the stores could not be forwarded (two stores,
// unaligned) and would wait for them.
// 8 ahead (ring of 16): GemvHot/Q4_QMASK62 36.8 → 31.0 us against 3 ahead (session 16, quiet
// host, medians of 5; 6 and 12 ahead were in between), Decode/Q4_QMASK62 within the noise.
constexpr int kLevelRing = 16;   // unpacked blocks in the ring
constexpr int kLevelsAhead = 8;  // blocks between a block's unpacking and its expands
struct alignas(64) LevelRow {
  uint8_t v[128];  // level k in byte k (0-95); 96-111 written by the high store, never expanded
};

// Block blk's 96 levels into row, one byte each.
inline void unpack_levels(const BlockQ4_QMask62& blk, LevelRow* row) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  // levels 0-47 in the low nibbles of bytes 0-47, 48-95 in the high ones (never past the block)
  const __m512i raw = _mm512_maskz_loadu_epi8((1ull << BlockQ4_QMask62::kHalf) - 1, blk.qs);
  _mm512_store_si512(row->v, _mm512_and_si512(raw, low4));
  _mm512_storeu_si512(row->v + BlockQ4_QMask62::kHalf, high_nibbles(raw));
}

// acc + a block's 16 canonical lanes: lane l += (d_{l % 4} · act_d) · isum lane l, d = the
// block's 4 fp16 quarter scales, broadcast to every 128-bit lane (the scalar twin's product
// d_q · activation d, then one FMA).
inline __m512 scaled_lanes(const uint16_t* d, float act_d, __m512i isum, __m512 acc) {
  uint64_t d4;
  std::memcpy(&d4, d, sizeof d4);
  const __m512 d16 = _mm512_cvtph_ps(_mm256_set1_epi64x(static_cast<int64_t>(d4)));
  const __m512 sc = _mm512_mul_ps(d16, _mm512_set1_ps(act_d));
  return _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(isum), acc);
}

// acc += the block's 16 canonical lanes: lane l += (d_{l % 4} · activation d) · (exact integer
// sum of lane l over the 4 words), lev = the block's unpacked levels.
inline __m512 qmask62_block(const BlockQ4_QMask62& blk, const QMaskSlotAct& x, const uint8_t* lev,
                            __m512 acc) {
  const __m512i eight = _mm512_set1_epi8(8);
  // one chain from the lane starts (blocks overlap their chains): no add, no zeroed register
  __m512i isum = _mm512_load_si512(x.start);
  unsigned off = 0;  // levels before the word (≤ 96: the loader bounds the count)
  for (int v = 0; v < 4; ++v) {
    // the mask register loaded from memory (a load uop; a kmovq from a general register would
    // take port 5, which the expands already fill), its count through a general register
    const __mmask64 k =
        _load_mask64(reinterpret_cast<__mmask64*>(const_cast<uint8_t*>(blk.mask + 8 * v)));
    uint64_t m;
    std::memcpy(&m, blk.mask + 8 * v, 8);
    const __m512i wv = _mm512_mask_expandloadu_epi8(eight, k, lev + off);
    isum = _mm512_dpbusd_epi32(isum, wv, _mm512_load_si512(x.qs + 64 * v));
    off += static_cast<unsigned>(std::popcount(m));
  }
  return scaled_lanes(blk.d, x.d, isum, acc);
}

// y[r] = row r · the activation row, for n_rows rows w_stride apart, as one stream of blocks:
// the unpacking runs kLevelsAhead blocks ahead across row ends, and nothing is set up per row
// (a call, a scale pass, the ring's first blocks and reduce16 through memory per 8-block row of
// a 2048-wide gemv were ~12 % of its cache-hot time). pf: bytes ahead of the block being read
// that it prefetches (kernels/prefetch.h, 0: none), one stream across row ends as the packed
// sparse gemms.
void gemv_qmask62(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const QMaskSlotAct* a,
                  float* y, int64_t pf) {
  using Q62 = BlockQ4_QMask62;
  const int64_t nb = n / kSparseBlock;
  const auto row = [&](int64_t r) {
    return reinterpret_cast<const Q62*>(static_cast<const uint8_t*>(w) + r * w_stride);
  };
  LevelRow ring[kLevelRing];
  int64_t next_row = 0, next_b = 0, next_g = 0;  // the next block to unpack, its ring index
  const auto unpack_next = [&] {
    if (next_row == n_rows) return;
    unpack_levels(row(next_row)[next_b], &ring[next_g++ % kLevelRing]);
    if (++next_b == nb) next_b = 0, ++next_row;
  };
  for (int k = 0; k < kLevelsAhead; ++k) unpack_next();
  int64_t g = 0;  // ring index of the block being read
  for (int64_t r = 0; r < n_rows; ++r) {
    const Q62* wr = row(r);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b, ++g) {
      // two lines per 88-byte block cover the stream (prefetch_ahead<88> would touch three)
      prefetch_ahead<65>(&wr[b], pf);
      unpack_next();
      acc = qmask62_block(wr[b], a[b], ring[g % kLevelRing].v, acc);
    }
    y[r] = reduce16_zmm(acc);
  }
}

float dot_qmask62_pf(int64_t n, const void* w_row, const void* act_row, int64_t pf) {
  float y;
  gemv_qmask62(n, w_row, 0, 1, static_cast<const QMaskSlotAct*>(act_row), &y, pf);
  return y;
}
float dot_qmask62(int64_t n, const void* w_row, const void* act_row) {
  return dot_qmask62_pf(n, w_row, act_row, 0);
}

// Prefetch distance in units of packed_prefetch_bytes() (4 KiB on Intel): Decode/Q4_QMASK62/1
// CPU time, 2 KiB against 4 KiB on the loaded session-15 host: medians of 3 rounds 35.4 against
// 32.9 ms, then 3 of 4 interleaved pairs 9-10 % less at 4 KiB (34.8 → 31.6 ms), one 5 % more.
constexpr int kPfQMask = 2;

// Q4_QMASK62's gemm: a one-token product streams its rows (gemv_qmask62); with more tokens every
// row is taken once per token, the first pass prefetching as sparse_gemm_rows_streamed.
void gemm_qmask62(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
                  size_t act_stride, int64_t n_tok, float* y, int64_t y_stride) {
  if (n_tok == 1) {
    gemv_qmask62(n, w, w_stride, n_rows, static_cast<const QMaskSlotAct*>(act), y,
                 kPfQMask * packed_prefetch_bytes());
    return;
  }
  sparse_gemm_rows_streamed<dot_qmask62_pf, kPfQMask>(n, w, w_stride, n_rows, act, act_stride,
                                                      n_tok, y, y_stride);
}

// ---------------------------------------------------------------- packed: expand from the block
//
// On PackedQ4_QMask62Block rows (kernels.h: slot half 0's levels in the low nibbles, half 1's in
// the high ones) every mask word's levels start at a byte of the block itself: vpexpandb loads
// them straight from the weights, pruned slots filled with 0x88 (level 8 in either nibble), and
// one and (words 0, 1) or one GFNI nibble shift (words 2, 3) leaves the levels. No ring: its two
// stores and reloads per block cost more than the two extra nibble ops.

// acc + one packed block's 16 canonical lanes, as qmask62_block (x: its activations).
inline __m512 qmask62_packed_block(const PackedQ4_QMask62Block& blk, const QMaskSlotAct& x,
                                   __m512 acc) {
  const __m512i fill = _mm512_set1_epi8(static_cast<char>(0x88)), low4 = _mm512_set1_epi8(0x0F);
  uint64_t m[4];
  std::memcpy(m, blk.mask, sizeof m);
  const unsigned c0 = static_cast<unsigned>(std::popcount(m[0]));
  const unsigned c2 = static_cast<unsigned>(std::popcount(m[2]));
  const auto expand = [&](int w, unsigned at) {  // word w's levels from byte `at`, both nibbles
    const __mmask64 k =
        _load_mask64(reinterpret_cast<__mmask64*>(const_cast<uint8_t*>(blk.mask + 8 * w)));
    return _mm512_mask_expandloadu_epi8(fill, k, blk.qs + at);
  };
  // one chain from the lane starts, as qmask62_block
  __m512i isum = _mm512_dpbusd_epi32(_mm512_load_si512(x.start),
                                     _mm512_and_si512(expand(0, 0), low4), _mm512_load_si512(x.qs));
  isum = _mm512_dpbusd_epi32(isum, _mm512_and_si512(expand(1, c0), low4),
                             _mm512_load_si512(x.qs + 64));
  isum = _mm512_dpbusd_epi32(isum, high_nibbles(expand(2, 0)), _mm512_load_si512(x.qs + 128));
  isum = _mm512_dpbusd_epi32(isum, high_nibbles(expand(3, c2)), _mm512_load_si512(x.qs + 192));
  return scaled_lanes(blk.d, x.d, isum, acc);
}

// One packed row · the activation row, prefetching pf bytes ahead (0: none).
inline __attribute__((always_inline)) float dot_qmask62_packed_pf(int64_t n, const void* w_row,
                                                                  const void* act_row, int64_t pf) {
  const auto* w = static_cast<const PackedQ4_QMask62Block*>(w_row);
  const auto* a = static_cast<const QMaskSlotAct*>(act_row);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    prefetch_ahead<65>(&w[b], pf);  // two lines per 88-byte block cover the stream
    acc = qmask62_packed_block(w[b], a[b], acc);
  }
  return reduce16_zmm(acc);
}
float dot_qmask62_packed(int64_t n, const void* w_row, const void* act_row) {
  return dot_qmask62_packed_pf(n, w_row, act_row, 0);
}

}  // namespace

FormatKernels avx512_qmask62_kernels() {
  return {DType::Q4_QMASK62,    0,          DType::Q8_K, kSparseBlock,
          qmask_slot_act_bytes, prep_qmask, dot_qmask62, gemm_qmask62};
}

FormatKernels avx512_qmask62_packed_kernels() {
  FormatKernels k = avx512_qmask62_kernels();
  k.packing = kPackingQ4_QMask62x1;
  k.vec_dot = dot_qmask62_packed;
  k.gemm = sparse_gemm_rows_streamed<dot_qmask62_packed_pf, kPfQMask>;
  return k;
}

}  // namespace edgefit::kernels::detail
