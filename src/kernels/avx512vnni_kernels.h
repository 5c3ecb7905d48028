// Internal to the AVX-512 VNNI table's files: what they call across files. The table
// (dot_avx512vnni.cpp) registers the gemv/dot of gemv_q_avx512vnni.cpp, the quantized gemm of
// gemm_q_panel_avx512vnni.cpp (which builds panels for the register tiles of
// gemm_q_4x3_avx512vnni.cpp) and the float kernels of gemm_f_4x4_avx512vnni.cpp.
//
// No intrinsics and no definitions here: every template below is defined and explicitly
// instantiated in its one AVX-512 file (from the lists below), so no file compiled for another
// ISA can make a copy of its own (see dot_avx512vnni.cpp for why that matters).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/isa_tables.h"

namespace edgefit::kernels::detail {

// The formats with an AVX-512 VNNI kernel on ggml's own rows, and those that also have one on
// repacked rows (kernels.h): X(format) for each, the one list the instantiations are made from.
#define EDGEFIT_AVX512VNNI_QFORMATS(X) \
  X(kQ8_0)                             \
  X(kQ4_0) X(kQ4_1) X(kQ5_0) X(kQ5_1) X(kIQ4_NL) X(kQ2_K) X(kQ3_K) X(kQ4_K) X(kQ5_K) X(kQ6_K)
#define EDGEFIT_AVX512VNNI_PACKED_QFORMATS(X) X(kQ8_0) X(kQ4_0) X(kQ4_K) X(kQ6_K)
// The float weight types (f32 activations).
#define EDGEFIT_AVX512VNNI_FLOAT_TYPES(X) X(F32) X(F16) X(BF16)

constexpr int kTileRows = 4;    // weight rows per register tile (each its own vpdpbusd operand)
constexpr int kTileTokens = 3;  // tokens per register tile: 4×3 int + 4×3 float accumulators

// One chunk of the gemm's per-thread panel: WChunk with the integer scale and min as floats,
// converted once when the panel is built instead of once per (row, token) pair in the tile's
// epilogue. Exact: |sc|, |m| < 2^8.
template <int G>
struct alignas(64) GemmChunk {
  uint8_t q[G][kLanes][4];  // as WChunk::q: levels + offset as u8, group g, lane l
  float d[kLanes];          // as WChunk::d: lane scales
  float dmin[kLanes];       // as WChunk::dmin: lane min scales
  float sc[kLanes];         // WChunk::sc as floats: lane integer scales (1 without)
  float m[kLanes];          // WChunk::m as floats: lane integer mins (0 without)
};
static_assert(sizeof(GemmChunk<8>) == sizeof(WChunk<8>) && sizeof(GemmChunk<4>) == 512);

template <QFormat F>
using GemmChunkOf = GemmChunk<qformat_info(F).groups>;
template <QFormat F>
using AChunkOf = AChunk<qformat_info(F).groups>;

// gemv_q_avx512vnni.cpp. Rows r < n_rows of format F (kPacked: repacked) at wb, w_stride bytes
// apart, against one prepared activation row: y[r].
template <QFormat F, bool kPacked>
void avx512vnni_gemv_q(int64_t n, const uint8_t* wb, size_t w_stride, int64_t n_rows,
                       const AChunkOf<F>* a, float* y);
// The table's VecDotFn: one row.
template <QFormat F, bool kPacked>
float avx512vnni_dot_q(int64_t n, const void* w, const void* act);

// gemm_q_4x3_avx512vnni.cpp. One group of rn ≤ kTileRows panel rows (wr[r]: nc chunks each)
// against tokens t in [t0, t1) of the prepared activation rows at ab, act_stride bytes apart:
// y[t · ys + r], in register tiles of up to kTileTokens tokens.
template <QFormat F>
void avx512vnni_gemm_tiles(const GemmChunkOf<F>* const* wr, int rn, const uint8_t* ab,
                           size_t act_stride, int64_t t0, int64_t t1, int64_t nc, float* y,
                           int64_t ys);

// gemm_q_panel_avx512vnni.cpp: the table's GemmFn (one token: the gemv).
template <QFormat F, bool kPacked>
void avx512vnni_gemm_q(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
                       size_t act_stride, int64_t n_tok, float* y, int64_t ys);

// gemm_f_4x4_avx512vnni.cpp: float weights of type W × f32 activations (kX4: row-interleaved
// weights, gemm only).
template <DType W, bool kX4>
void avx512vnni_gemm_f(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
                       size_t act_stride, int64_t n_tok, float* y, int64_t ys);
template <DType W>
float avx512vnni_dot_f(int64_t n, const void* w, const void* x);

}  // namespace edgefit::kernels::detail
