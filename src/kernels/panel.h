// Internal to src/kernels: the "panel" layouts the SIMD integer kernels run on, and portable
// helpers to read single weights out of ggml blocks.
//
// Why panels. An int8 dot product instruction (vpdpbusd, maddubs+madd, sdot) sums 4 adjacent byte
// products into one int32 lane. If lane l of a 512-bit register always holds bytes of the SAME
// sub-block l, then G instructions (G = sub-block length / 4) leave 16 complete sub-block sums in
// 16 lanes, with no horizontal reduction at all. So both operands are regrouped per "chunk" of 16
// sub-blocks: group g, lane l = bytes 4g..4g+3 of sub-block l. Activations are regrouped once per
// matmul call (prepare_act); weights are regrouped on the fly into a small per-thread scratch
// (gemv: per 4 rows; gemm: per 4 rows, reused by every token of a token block). The original weight
// bytes are never modified or copied whole.
//
// This header is compiled into the scalar TU and into ISA-flagged TUs: everything here is either a
// type or a constexpr/inline function without SIMD code, so no ISA-specific copy can leak.
#pragma once

#include <cstdint>
#include <cstring>

#include "quant/block_formats.h"

namespace edgefit::kernels::detail {

inline constexpr int kLanes = 16;  // sub-blocks per chunk = int32 lanes of a 512-bit register

// Weight formats with integer kernels.
enum class QFormat : int { kQ8_0, kQ4_0, kQ4_K, kQ5_K, kQ6_K };

// Static facts about a format's panel.
struct QFormatInfo {
  int lane_len;     // weights per sub-block (= per lane): 32, or 16 for Q6_K
  int groups;       // lane_len / 4: dot instructions per chunk
  int block_elems;  // weights per ggml block: 32 or 256
  int block_bytes;  // bytes per ggml block
  bool has_scale;   // integer per-sub-block scale (k-quants)
  bool has_min;     // per-sub-block min term (Q4_K, Q5_K)
};

constexpr QFormatInfo qformat_info(QFormat f) {
  switch (f) {
    case QFormat::kQ8_0:
      return {32, 8, 32, 34, false, false};
    case QFormat::kQ4_0:
      return {32, 8, 32, 18, false, false};
    case QFormat::kQ4_K:
      return {32, 8, 256, 144, true, true};
    case QFormat::kQ5_K:
      return {32, 8, 256, 176, true, true};
    case QFormat::kQ6_K:
      return {16, 4, 256, 210, true, false};
  }
  return {32, 8, 32, 34, false, false};
}

// Weights per chunk (16 sub-blocks).
constexpr int chunk_elems(QFormat f) {
  return kLanes * qformat_info(f).lane_len;
}
// Chunks covering a row of n weights; the last one is zero-padded.
constexpr int64_t n_chunks(QFormat f, int64_t n) {
  return (n + chunk_elems(f) - 1) / chunk_elems(f);
}

// One chunk of a weight row: 16 sub-blocks regrouped for the dot instructions (G groups).
template <int G>
struct alignas(64) WChunk {
  uint8_t q[G][kLanes][4];  // group g, lane l: weights 4g..4g+3 of sub-block l, stored as
                            // (level + offset) mod 256 so the u8 side of vpdpbusd can take them
  float d[kLanes];          // lane's scale: fp16 d of its block / super-block (0 in padding)
  float dmin[kLanes];       // lane's min scale: fp16 dmin of its super-block (Q4_K, Q5_K; else 0)
  int32_t sc[kLanes];       // lane's integer sub-block scale (k-quants; else 1)
  int32_t m[kLanes];        // lane's integer sub-block min (Q4_K, Q5_K; else 0)
};
static_assert(sizeof(WChunk<8>) == 768 && sizeof(WChunk<4>) == 512);

// One chunk of a prepared activation row, lanes matching WChunk's.
template <int G>
struct alignas(64) AChunk {
  int8_t q[G][kLanes][4];  // group g, lane l: quants 4g..4g+3 of sub-block l (0 in padding)
  float d[kLanes];         // scale of the Q8_0 block / Q8_K super-block lane l belongs to
  int32_t sum[kLanes];     // Σ of lane l's quants × sum_mul: the weight offset to subtract, or 1
                           // when the sum feeds a k-quant min term
};
static_assert(sizeof(AChunk<8>) == 640 && sizeof(AChunk<4>) == 384);

// ---------------------------------------------------------------- reading single weights

// ggml's get_scale_min_k4: 6-bit scale and min j (0..7) of a Q4_K/Q5_K super-block.
inline void scale_min_k4(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Level (the integer that multiplies the scale, offset removed) of weight i of a block.
inline int level_q8_0(const quant::BlockQ8_0& b, int i) {
  return b.qs[i];
}
inline int level_q4_0(const quant::BlockQ4_0& b, int i) {
  return (i < 16 ? (b.qs[i] & 0xF) : (b.qs[i - 16] >> 4)) - 8;
}
// Q4_K / Q5_K: levels 0..15 / 0..31 (the min is a separate term). i in 0..255.
inline int level_q4_k(const quant::BlockQ4_K& b, int i) {
  const uint8_t byte = b.qs[32 * (i / 64) + i % 32];
  return (i % 64) < 32 ? (byte & 0xF) : (byte >> 4);
}
inline int level_q5_k(const quant::BlockQ5_K& b, int i) {
  const uint8_t byte = b.qs[32 * (i / 64) + i % 32];
  const int lo = (i % 64) < 32 ? (byte & 0xF) : (byte >> 4);
  return lo | (((b.qh[i % 32] >> (i / 32)) & 1) << 4);
}
// Q6_K: levels -32..31.
inline int level_q6_k(const quant::BlockQ6_K& b, int i) {
  const int h = i / 128, l = i % 128, k = l / 32, ll = l % 32;
  const uint8_t* ql = b.ql + 64 * h;
  const uint8_t* qh = b.qh + 32 * h;
  const uint8_t lo = (k & 1) ? ql[ll + 32] : ql[ll];
  const int nib = k >= 2 ? (lo >> 4) : (lo & 0xF);
  return (nib | (((qh[ll] >> (2 * k)) & 3) << 4)) - 32;
}

// Folds 16 float lanes the way a 512-bit register is reduced in halves: 16 → 8 → 4 → 2 → 1.
// Every ISA's kernel ends with exactly this order.
inline float reduce16(const float* a) {
  float b[8], c[4];
  for (int i = 0; i < 8; ++i) b[i] = a[i] + a[i + 8];
  for (int i = 0; i < 4; ++i) c[i] = b[i] + b[i + 4];
  return (c[0] + c[2]) + (c[1] + c[3]);
}

// ---------------------------------------------------------------- portable panel code (panel.cpp)

// Regroups chunk `c` of a weight row of n weights into `out` (WChunk<groups>), storing level +
// offset as u8. Lanes past the row end are zero (scale 0, so they add nothing).
void unpack_chunk_ref(QFormat f, const void* row, int64_t n, int64_t c, int offset, void* out);
// Whole row: n_chunks(f, n) consecutive chunks.
void unpack_row_ref(QFormat f, const void* row, int64_t n, int offset, void* out);

// Bytes of a prepared activation row for format f (n_chunks × sizeof(AChunk)).
size_t act_row_bytes(QFormat f, int64_t n);
// Quantizes n floats with ggml's activation quantizer (Q8_0 for Q8_0/Q4_0 weights, Q8_K for the
// k-quants) and regroups them into chunks; sum = Σ quants × sum_mul.
void prepare_act_row(QFormat f, const float* x, int64_t n, int sum_mul, void* out);

// Weight offset (stored u8 = level + offset) and activation sum multiplier of one ISA's encoding.
struct PanelEncoding {
  int offset;   // added to each level so it fits the unsigned operand (0: stored as signed)
  int sum_mul;  // multiplier of the activation sums: the offset, or 1 where only mins use sums
};

}  // namespace edgefit::kernels::detail
