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
#include <iterator>

#include "core/dtype.h"
#include "quant/block_formats.h"

namespace edgefit::kernels::detail {

inline constexpr int kLanes = 16;  // sub-blocks per chunk = int32 lanes of a 512-bit register

// Weight formats with integer kernels (kQFormats below has one row per format, in this order).
enum class QFormat : int {
  kQ8_0,
  kQ4_0,
  kQ4_K,
  kQ5_K,
  kQ6_K,
  kQ4_1,
  kQ5_0,
  kQ5_1,
  kIQ4_NL,
  kQ2_K,
  kQ3_K
};

// Static facts about a format's panel.
struct QFormatInfo {
  QFormat format;   // the kernel format of this row (its index in kQFormats)
  DType type;       // the ggml type it reads: the one map between QFormat and DType
  int lane_len;     // weights per sub-block (= per lane): 32, or 16 for Q2_K, Q3_K, Q6_K
  int groups;       // lane_len / 4: dot instructions per chunk
  int block_elems;  // weights per ggml block: 32 or 256 (core/dtype's block size)
  int block_bytes;  // bytes per ggml block (core/dtype's bytes per block)
  bool has_scale;   // integer per-sub-block scale (k-quants)
  bool has_min;     // per-lane min term: Q2_K, Q4_K, Q5_K (subtracted, d_min · m), Q4_1, Q5_1
                    // (the block's fp16 m, added: stored as dmin = m, integer m = -1)
};

// A row: the block size and bytes come from core/dtype's table, not typed again.
constexpr QFormatInfo qformat_row(QFormat f, DType t, int lane_len, bool has_scale, bool has_min) {
  return {f,
          t,
          lane_len,
          lane_len / 4,
          static_cast<int>(dtype_row(t).block_size),
          static_cast<int>(dtype_row(t).type_size),
          has_scale,
          has_min};
}

// One row per QFormat, indexed by it (checked below, so a misplaced row fails to compile).
//                                  format           type           lane  scale  min
inline constexpr QFormatInfo kQFormats[] = {
    qformat_row(QFormat::kQ8_0, DType::Q8_0, 32, false, false),
    qformat_row(QFormat::kQ4_0, DType::Q4_0, 32, false, false),
    qformat_row(QFormat::kQ4_K, DType::Q4_K, 32, true, true),
    qformat_row(QFormat::kQ5_K, DType::Q5_K, 32, true, true),
    qformat_row(QFormat::kQ6_K, DType::Q6_K, 16, true, false),
    qformat_row(QFormat::kQ4_1, DType::Q4_1, 32, false, true),
    qformat_row(QFormat::kQ5_0, DType::Q5_0, 32, false, false),
    qformat_row(QFormat::kQ5_1, DType::Q5_1, 32, false, true),
    qformat_row(QFormat::kIQ4_NL, DType::IQ4_NL, 32, false, false),
    qformat_row(QFormat::kQ2_K, DType::Q2_K, 16, true, true),
    qformat_row(QFormat::kQ3_K, DType::Q3_K, 16, true, false),
};
inline constexpr int kNumQFormats = static_cast<int>(std::size(kQFormats));

constexpr bool qformat_rows_in_order() {
  for (int i = 0; i < kNumQFormats; ++i)
    if (static_cast<int>(kQFormats[i].format) != i) return false;
  return kNumQFormats == static_cast<int>(QFormat::kQ3_K) + 1;
}
static_assert(qformat_rows_in_order(), "kQFormats: one row per QFormat, in the enum's order");

constexpr QFormatInfo qformat_info(QFormat f) {
  return kQFormats[static_cast<int>(f)];
}
// The ggml type a kernel format reads.
constexpr DType qformat_dtype(QFormat f) {
  return qformat_info(f).type;
}

// How an ISA's integer dot instruction takes the weight operand, which decides the offset its
// panels store levels with (stored u8 = level + offset; the offset comes back out through the
// prepared activation sums × offset).
enum class WeightOperand {
  kSigned,    // signed × signed (NEON sdot / smull): levels as they are
  kMaddubs,   // AVX2 maddubs and the AVX-VNNI table: unsigned weights, except Q8_0 and IQ4_NL,
              // whose u8 values (up to 255) times 127 twice would overflow maddubs's int16; they
              // stay signed and use the sign trick (|w| · sign(a, w))
  kVpdpbusd,  // AVX-512 vpdpbusd: every weight unsigned (int32 sums, no int16 stage)
};

// The smallest offset that makes every level of f non-negative (0 where levels are unsigned).
constexpr int level_bias(QFormat f) {
  switch (f) {
    case QFormat::kQ8_0:
    case QFormat::kIQ4_NL:
      return 128;
    case QFormat::kQ4_0:
      return 8;
    case QFormat::kQ5_0:
      return 16;
    case QFormat::kQ6_K:
      return 32;
    case QFormat::kQ3_K:
      return 4;
    default:
      return 0;  // Q4_1, Q5_1, Q2_K, Q4_K, Q5_K: levels 0..2^bits-1, the min is a term of its own
  }
}

// True when f's weights stay signed under maddubs (the sign trick).
constexpr bool maddubs_signed(QFormat f) {
  return f == QFormat::kQ8_0 || f == QFormat::kIQ4_NL;
}

constexpr int weight_offset_for(WeightOperand op, QFormat f) {
  if (op == WeightOperand::kSigned) return 0;
  if (op == WeightOperand::kMaddubs && maddubs_signed(f)) return 0;
  return level_bias(f);
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
  float dmin[kLanes];       // lane's min scale: fp16 dmin of its super-block (Q2_K, Q4_K, Q5_K),
                            // fp16 m of its block (Q4_1, Q5_1); else 0
  int32_t sc[kLanes];       // lane's integer sub-block scale (k-quants; else 1)
  int32_t m[kLanes];        // lane's integer sub-block min (Q2_K, Q4_K, Q5_K), -1 (Q4_1, Q5_1:
                            // the min is added); else 0
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
// Q4_1 / Q5_1: levels 0..15 / 0..31 (the block min is a separate term); Q5_0: -16..15.
inline int level_q4_1(const quant::BlockQ4_1& b, int i) {
  return i < 16 ? (b.qs[i] & 0xF) : (b.qs[i - 16] >> 4);
}
// Bit i of the little-endian 32-bit qh of Q5_0 / Q5_1.
inline int qh_bit(const uint8_t* qh, int i) {
  return (qh[i / 8] >> (i % 8)) & 1;
}
inline int level_q5_0(const quant::BlockQ5_0& b, int i) {
  const int lo = i < 16 ? (b.qs[i] & 0xF) : (b.qs[i - 16] >> 4);
  return (lo | (qh_bit(b.qh, i) << 4)) - 16;
}
inline int level_q5_1(const quant::BlockQ5_1& b, int i) {
  const int lo = i < 16 ? (b.qs[i] & 0xF) : (b.qs[i - 16] >> 4);
  return lo | (qh_bit(b.qh, i) << 4);
}
// IQ4_NL: the table value of the index (-127..113).
inline int level_iq4_nl(const quant::BlockIQ4_NL& b, int i) {
  return quant::kIQ4NLValues[i < 16 ? (b.qs[i] & 0xF) : (b.qs[i - 16] >> 4)];
}
// Q2_K / Q3_K: weight i (0..255) is bits 2j, 2j+1 of qs byte 32·(i / 128) + i % 32, j = (i % 128)
// / 32 (ggml's dequantize_row_q2_K order). Q2_K levels 0..3 (min separate); Q3_K -4..3: hmask
// byte i % 32, bit i / 32 clear means minus 4.
inline int level_q2_k(const quant::BlockQ2_K& b, int i) {
  return (b.qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3;
}
inline int level_q3_k(const quant::BlockQ3_K& b, int i) {
  const int lo = (b.qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3;
  return lo - (((b.hmask[i % 32] >> (i / 32)) & 1) ? 0 : 4);
}
// Q3_K's scale of sub-block j (0..15), bias removed: -32..31 (ggml's kmask unpacking).
inline int scale_q3_k(const uint8_t* s, int j) {
  const int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
  const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (lo | (hi << 4)) - 32;
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
// Quantizes n floats with ggml's activation quantizer (Q8_0 for the 32-weight formats, Q8_K for
// the k-quants) and regroups them into chunks; sum = Σ quants × sum_mul (sum_mul: the weight
// offset, which the kernels subtract back out as offset · Σ activations, or 1 where only a min
// term uses the sum).
void prepare_act_row(QFormat f, const float* x, int64_t n, int sum_mul, void* out);

}  // namespace edgefit::kernels::detail
