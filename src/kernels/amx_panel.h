// Internal to src/kernels, and only for the files compiled with AVX-512 + AMX flags
// (repack_amx.cpp, gemm_amx.cpp): the weight panel the AMX-INT8 gemm multiplies with, and the
// 16×16 dword transpose both files use. Everything with SIMD code here has internal linkage, so
// no copy compiled with these flags can be picked by the linker for code that runs on any CPU.
//
// The panel. tdpbssd computes C[m][n] += Σ_kk Σ_i A[m][4kk+i] · B[kk][4n+i]: every C element is
// a whole dot product over the K bytes of a row of A. The canonical float order (kernels.h) needs
// one exact integer sum PER SUB-BLOCK (32 weights, 16 for Q6_K), so one tile product covers
// exactly one sub-block: K = the sub-block's bytes. A = 16 tokens × that sub-block's activation
// quants (rows of the prepared activations, read in place), B = the same sub-block of 16 weight
// rows with the 4 bytes of quad kk of row n at B[kk][4n..4n+3] (AmxWeightTile::q). So C row m is
// the 16 weight rows' sums for token m: a vector over rows, which the AVX-512 epilogue scales
// with the rows' scales (AmxWeightTile::d …) as they lie.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdint>

#include "kernels/panel.h"

namespace edgefit::kernels::detail {

inline constexpr int kAmxRows = 16;  // weight rows per panel = N of a tile product (64 bytes / 4)

// One sub-block of 16 weight rows: the B operand of one tdpbssd and the rows' scales for the
// epilogue. KQ = quads per sub-block: 8 (32 weights) or 4 (Q6_K's 16).
template <int KQ>
struct alignas(64) AmxWeightTile {
  int8_t q[KQ][kAmxRows][4];  // quad kk, row n: signed levels of weights 4kk..4kk+3 of this
                              // sub-block of row n (0 in rows past the matrix)
  float d[kAmxRows];          // row n's scale: fp16 d of its block / super-block (0 past the end)
  float dmin[kAmxRows];       // row n's super-block min scale (Q4_K only; else not written)
  float sc[kAmxRows];         // row n's integer sub-block scale as a float (k-quants only)
  float m[kAmxRows];          // row n's integer sub-block min as a float (Q4_K only)
};
static_assert(sizeof(AmxWeightTile<8>) == 768 && sizeof(AmxWeightTile<4>) == 512,
              "a B tile of 8 (4) rows of 64 bytes, then 4 vectors of 16 floats");

// Builds the panel of `rows` (1..16) weight rows of n weights at w (w_stride bytes apart, in the
// format's packed layout, kernels.h; a partial last chunk in ggml's layout) into n / lane_len
// consecutive AmxWeightTile<groups> at out. Rows past `rows` are zero. (repack_amx.cpp)
void build_amx_panel(QFormat f, const uint8_t* w, size_t w_stride, int rows, int64_t n, void* out);

namespace {

#define EDGEFIT_AMX_INLINE inline __attribute__((always_inline))

// r[i] dword j → r[j] dword i, for 16 vectors of 16 dwords: unpacks within 128-bit lanes, then a
// 4×4 transpose of the 128-bit lanes.
EDGEFIT_AMX_INLINE void transpose16x16(__m512i* r) {
  __m512i t[16], u[16];
  for (int k = 0; k < 8; ++k) {
    t[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
  }
  // u[4k + e], 128-bit lane L = rows 4k..4k+3 at dword 4L + e.
  for (int k = 0; k < 4; ++k) {
    u[4 * k] = _mm512_unpacklo_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 1] = _mm512_unpackhi_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 2] = _mm512_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
    u[4 * k + 3] = _mm512_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
  }
  for (int e = 0; e < 4; ++e) {
    const __m512i v0 = _mm512_shuffle_i32x4(u[e], u[4 + e], 0x44);  // u[e].0 .1, u[4+e].0 .1
    const __m512i v1 = _mm512_shuffle_i32x4(u[e], u[4 + e], 0xEE);  // .2 .3 of both
    const __m512i v2 = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], 0x44);
    const __m512i v3 = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], 0xEE);
    r[e] = _mm512_shuffle_i32x4(v0, v2, 0x88);       // lane 0 of u[e], u[4+e], u[8+e], u[12+e]
    r[4 + e] = _mm512_shuffle_i32x4(v0, v2, 0xDD);   // lane 1
    r[8 + e] = _mm512_shuffle_i32x4(v1, v3, 0x88);   // lane 2
    r[12 + e] = _mm512_shuffle_i32x4(v1, v3, 0xDD);  // lane 3
  }
}

}  // namespace

}  // namespace edgefit::kernels::detail
