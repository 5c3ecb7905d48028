// The grid functions of the traits rows (format_grid.h): each decode mirrors the format's
// dequantizer (same operand order, so the same float roundings); each pack mirrors the bit layout
// its quantizer writes (block_formats.h). The rows themselves, with each format's codes, are in
// quant_traits.cpp.
#include "quant/format_grid.h"

#include <cstring>

#include "core/fp16.h"
#include "quant/block_formats.h"
#include "quant/kernels.h"

namespace edgefit::quant {
namespace {

// ------------------------------------------------------------------ 32-weight formats

// Nibble layout shared by Q4_0, Q4_1, Q5_x (low 4 bits) and IQ4_NL: byte j holds weights j and
// j+16.
void pack_nibbles(uint8_t* qs, const uint8_t* q) {
  for (int j = 0; j < kQK / 2; ++j)
    qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + kQK / 2] & 0xF) << 4));
}

// 5th bits of Q5_0/Q5_1: bit j of the little-endian uint32 is weight j's.
void pack_qh5(uint8_t* qh, const uint8_t* q) {
  uint32_t h = 0;
  for (int j = 0; j < kQK; ++j) h |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  for (int b = 0; b < 4; ++b) qh[b] = static_cast<uint8_t>(h >> (8 * b));
}

void fill(float* a, float v, int n) {
  for (int i = 0; i < n; ++i) a[i] = v;
}

}  // namespace

void decode_grid_q8_0(const void* b, float* step, float* off) {
  fill(step, fp16_to_fp32(static_cast<const BlockQ8_0*>(b)->d), kQK);
  fill(off, 0.f, kQK);
}
void pack_grid_q8_0(void* b, const uint8_t* q) {
  auto* blk = static_cast<BlockQ8_0*>(b);
  for (int j = 0; j < kQK; ++j) blk->qs[j] = static_cast<int8_t>(q[j] - 128);
}

void decode_grid_q4_0(const void* b, float* step, float* off) {
  fill(step, fp16_to_fp32(static_cast<const BlockQ4_0*>(b)->d), kQK);
  fill(off, 0.f, kQK);
}
void pack_grid_q4_0(void* b, const uint8_t* q) {
  pack_nibbles(static_cast<BlockQ4_0*>(b)->qs, q);
}

void decode_grid_q4_1(const void* b, float* step, float* off) {
  const auto* blk = static_cast<const BlockQ4_1*>(b);
  fill(step, fp16_to_fp32(blk->d), kQK);
  fill(off, fp16_to_fp32(blk->m), kQK);
}
void pack_grid_q4_1(void* b, const uint8_t* q) {
  pack_nibbles(static_cast<BlockQ4_1*>(b)->qs, q);
}

void decode_grid_q5_0(const void* b, float* step, float* off) {
  fill(step, fp16_to_fp32(static_cast<const BlockQ5_0*>(b)->d), kQK);
  fill(off, 0.f, kQK);
}
void pack_grid_q5_0(void* b, const uint8_t* q) {
  auto* blk = static_cast<BlockQ5_0*>(b);
  pack_nibbles(blk->qs, q);
  pack_qh5(blk->qh, q);
}

void decode_grid_q5_1(const void* b, float* step, float* off) {
  const auto* blk = static_cast<const BlockQ5_1*>(b);
  fill(step, fp16_to_fp32(blk->d), kQK);
  fill(off, fp16_to_fp32(blk->m), kQK);
}
void pack_grid_q5_1(void* b, const uint8_t* q) {
  auto* blk = static_cast<BlockQ5_1*>(b);
  pack_nibbles(blk->qs, q);
  pack_qh5(blk->qh, q);
}

void decode_grid_iq4_nl(const void* b, float* step, float* off) {
  fill(step, fp16_to_fp32(static_cast<const BlockIQ4_NL*>(b)->d), kQK);
  fill(off, 0.f, kQK);
}
void pack_grid_iq4_nl(void* b, const uint8_t* q) {
  pack_nibbles(static_cast<BlockIQ4_NL*>(b)->qs, q);
}

// ------------------------------------------------------------------ k-quants

namespace {

// 2-bit fields of Q2_K/Q3_K: byte l of each 32-byte group g holds weights 128g + l + 32k at bit 2k.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = static_cast<uint8_t>((L[j + l] & 3) | ((L[j + l + 32] & 3) << 2) |
                                           ((L[j + l + 64] & 3) << 4) | ((L[j + l + 96] & 3) << 6));
}

}  // namespace

void decode_grid_q2_k(const void* b, float* step, float* off) {
  const auto* blk = static_cast<const BlockQ2_K*>(b);
  const float d = fp16_to_fp32(blk->d), min = fp16_to_fp32(blk->dmin);
  for (int s = 0; s < 16; ++s) {
    const float dl = d * (blk->scales[s] & 0xF), ml = min * (blk->scales[s] >> 4);
    fill(step + 16 * s, dl, 16);
    fill(off + 16 * s, -ml, 16);  // dl·q − ml == dl·q + (−ml) exactly
  }
}
void pack_grid_q2_k(void* b, const uint8_t* q) {
  pack_2bit(q, static_cast<BlockQ2_K*>(b)->qs);
}

namespace {

int q3_k_scale(const uint8_t* scales, int j) {
  const int low = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace

void decode_grid_q3_k(const void* b, float* step, float* off) {
  const auto* blk = static_cast<const BlockQ3_K*>(b);
  const float d_all = fp16_to_fp32(blk->d);
  for (int s = 0; s < 16; ++s) fill(step + 16 * s, d_all * q3_k_scale(blk->scales, s), 16);
  fill(off, 0.f, kQK_K);
}
void pack_grid_q3_k(void* b, const uint8_t* q) {
  auto* blk = static_cast<BlockQ3_K*>(b);
  std::memset(blk->hmask, 0, sizeof(blk->hmask));
  for (int j = 0; j < kQK_K; ++j)
    if (q[j] > 3) blk->hmask[j % 32] = static_cast<uint8_t>(blk->hmask[j % 32] | (1 << (j / 32)));
  pack_2bit(q, blk->qs);  // low 2 bits
}

namespace {

void scale_min_k4(int j, const uint8_t* q, int* d, int* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

template <class Block>
void decode_k4(const void* b, float* step, float* off) {
  const auto* blk = static_cast<const Block*>(b);
  const float d = fp16_to_fp32(blk->d), min = fp16_to_fp32(blk->dmin);
  for (int s = 0; s < 8; ++s) {
    int sc, m;
    scale_min_k4(s, blk->scales, &sc, &m);
    fill(step + 32 * s, d * sc, 32);
    fill(off + 32 * s, -(min * m), 32);
  }
}

}  // namespace

void decode_grid_q4_k(const void* b, float* step, float* off) {
  decode_k4<BlockQ4_K>(b, step, off);
}
void pack_grid_q4_k(void* b, const uint8_t* L) {
  uint8_t* qs = static_cast<BlockQ4_K*>(b)->qs;
  for (int j = 0; j < kQK_K; j += 64, qs += 32)
    for (int l = 0; l < 32; ++l) qs[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
}

void decode_grid_q5_k(const void* b, float* step, float* off) {
  decode_k4<BlockQ5_K>(b, step, off);
}
void pack_grid_q5_k(void* b, const uint8_t* L) {
  auto* blk = static_cast<BlockQ5_K*>(b);
  uint8_t* qs = blk->qs;
  std::memset(blk->qh, 0, sizeof(blk->qh));
  for (int j = 0; j < kQK_K; j += 64, qs += 32)
    for (int l = 0; l < 32; ++l) {
      const int bit = j / 32;
      const int l1 = L[j + l], l2 = L[j + l + 32];
      if (l1 > 15) blk->qh[l] = static_cast<uint8_t>(blk->qh[l] | (1 << bit));
      if (l2 > 15) blk->qh[l] = static_cast<uint8_t>(blk->qh[l] | (2 << bit));
      qs[l] = static_cast<uint8_t>((l1 & 0xF) | ((l2 & 0xF) << 4));
    }
}

void decode_grid_q6_k(const void* b, float* step, float* off) {
  const auto* blk = static_cast<const BlockQ6_K*>(b);
  const float d = fp16_to_fp32(blk->d);
  // The dequantizer evaluates d * sc * q left to right: (d·sc) is the step.
  for (int s = 0; s < 16; ++s) fill(step + 16 * s, d * blk->scales[s], 16);
  fill(off, 0.f, kQK_K);
}
void pack_grid_q6_k(void* b, const uint8_t* L) {
  auto* blk = static_cast<BlockQ6_K*>(b);
  uint8_t* ql = blk->ql;
  uint8_t* qh = blk->qh;
  for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32)
    for (int l = 0; l < 32; ++l) {
      const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
      ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
      qh[l] =
          static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
}

}  // namespace edgefit::quant
