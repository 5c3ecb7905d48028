// Byte layouts of ggml's quantized blocks, exactly as they sit in a GGUF tensor's data.
//
// Every block is a fixed number of weights (32 for the "legacy" formats and IQ4_NL, 256 for the
// k-quant super-blocks) stored in a fixed number of bytes. Scales are IEEE fp16 kept as raw
// uint16_t bits (convert with edgefit::fp16_to_fp32 / fp32_to_fp16 from core/fp16.h), so the
// structs have no padding: every member is a byte array or a 2-byte scale, and the k-quant
// activation block Q8_K (float first, 292 = 4·73 bytes) also packs without holes. The
// static_asserts pin both the size and the absence of padding; the multi-byte fields are
// little-endian, which is the only byte order ggml writes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgefit::quant {

inline constexpr int kQK = 32;  // weights per block of the 32-wide formats (QK4_0, QK8_0, QK4_NL…)
inline constexpr int kQK_K = 256;  // weights per k-quant super-block (QK_K)

// ---------------------------------------------------------------- 32-weight "legacy" formats

// Q8_0: symmetric 8-bit, value = d * q.
struct BlockQ8_0 {
  uint16_t d;      // fp16 scale: absmax / 127
  int8_t qs[kQK];  // signed quants, one per weight, in weight order
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q4_0: symmetric 4-bit, value = d * (q - 8).
struct BlockQ4_0 {
  uint16_t d;           // fp16 scale: (value of largest magnitude) / -8
  uint8_t qs[kQK / 2];  // nibbles: low nibble of byte j is weight j, high nibble is weight j+16
};
static_assert(sizeof(BlockQ4_0) == 18);

// Q4_1: asymmetric 4-bit, value = d * q + m.
struct BlockQ4_1 {
  uint16_t d;           // fp16 scale: (max - min) / 15
  uint16_t m;           // fp16 offset: the block minimum
  uint8_t qs[kQK / 2];  // nibbles, same order as Q4_0
};
static_assert(sizeof(BlockQ4_1) == 20);

// Q5_0: symmetric 5-bit, value = d * (q - 16); the 5th bits live apart in qh.
struct BlockQ5_0 {
  uint16_t d;           // fp16 scale: (value of largest magnitude) / -16
  uint8_t qh[4];        // bit j of this little-endian uint32 is the 5th bit of weight j
  uint8_t qs[kQK / 2];  // low 4 bits, same nibble order as Q4_0
};
static_assert(sizeof(BlockQ5_0) == 22);

// Q5_1: asymmetric 5-bit, value = d * q + m.
struct BlockQ5_1 {
  uint16_t d;           // fp16 scale: (max - min) / 31
  uint16_t m;           // fp16 offset: the block minimum
  uint8_t qh[4];        // 5th bits, as in Q5_0
  uint8_t qs[kQK / 2];  // low 4 bits, as in Q5_0
};
static_assert(sizeof(BlockQ5_1) == 24);

// IQ4_NL: 4-bit indices into a fixed non-linear table (kIQ4NLValues), value = d * table[q].
struct BlockIQ4_NL {
  uint16_t d;           // fp16 scale
  uint8_t qs[kQK / 2];  // table indices, same nibble order as Q4_0
};
static_assert(sizeof(BlockIQ4_NL) == 18);

// ---------------------------------------------------------------- 256-weight k-quant super-blocks

// Q2_K: 16 sub-blocks of 16 weights, value = d*sc*q - dmin*m, q in 0..3.
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];  // per sub-block: low nibble = scale sc, high nibble = min m
  uint8_t qs[kQK_K / 4];       // 2-bit quants; byte l of each 32-byte half holds weights
                               // l, l+32, l+64, l+96 of that 128-weight half (bits 0-1 … 6-7)
  uint16_t d;                  // fp16 super-scale of the sub-block scales
  uint16_t dmin;               // fp16 super-scale of the sub-block mins
};
static_assert(sizeof(BlockQ2_K) == 84);

// Q3_K: 16 sub-blocks of 16 weights, value = d*(sc-32)*(q-4), q in 0..7 (2 low bits + 1 high bit).
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];  // high bit of q: byte l, bit b belongs to weight 32*b + l
  uint8_t qs[kQK_K / 4];     // low 2 bits, packed like Q2_K
  uint8_t scales[12];        // 16 six-bit scales (biased by 32): bytes 0-7 hold the low nibbles
                             // (sub-blocks j and j+8), bytes 8-11 the top 2 bits, 4 per byte
  uint16_t d;                // fp16 super-scale
};
static_assert(sizeof(BlockQ3_K) == 110);

// Q4_K: 8 sub-blocks of 32 weights, value = d*sc*q - dmin*m, q in 0..15.
struct BlockQ4_K {
  uint16_t d;             // fp16 super-scale of the sub-block scales
  uint16_t dmin;          // fp16 super-scale of the sub-block mins
  uint8_t scales[12];     // 8 six-bit scales and 8 six-bit mins (see get_scale_min_k4)
  uint8_t qs[kQK_K / 2];  // nibbles: each 32-byte group holds 64 weights, low nibbles first
};
static_assert(sizeof(BlockQ4_K) == 144);

// Q5_K: as Q4_K plus a 5th bit per weight, q in 0..31.
struct BlockQ5_K {
  uint16_t d;             // fp16 super-scale of the sub-block scales
  uint16_t dmin;          // fp16 super-scale of the sub-block mins
  uint8_t scales[12];     // packed like Q4_K
  uint8_t qh[kQK_K / 8];  // byte l, bit b = 5th bit of weight 32*b + l
  uint8_t qs[kQK_K / 2];  // low 4 bits, packed like Q4_K
};
static_assert(sizeof(BlockQ5_K) == 176);

// Q6_K: 16 sub-blocks of 16 weights, value = d*sc*(q-32), q in 0..63.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];      // low 4 bits; per 128-weight half, byte l holds weights l (low
                              // nibble) and l+64 (high), byte l+32 holds l+32 and l+96
  uint8_t qh[kQK_K / 4];      // high 2 bits; per half, byte l holds weights l, l+32, l+64, l+96
  int8_t scales[kQK_K / 16];  // signed 8-bit sub-block scales
  uint16_t d;                 // fp16 super-scale
};
static_assert(sizeof(BlockQ6_K) == 210);

// Q8_K: the activation format the k-quant dot products pair with (not written to GGUF files).
struct BlockQ8_K {
  float d;                    // fp32 scale (not fp16: activations need the precision)
  int8_t qs[kQK_K];           // signed quants
  int16_t bsums[kQK_K / 16];  // sum of each group of 16 quants, for the min terms of dot products
};
static_assert(sizeof(BlockQ8_K) == 292);

// The 16 levels of IQ4_NL (and IQ4_XS): a non-uniform grid denser near zero, as in ggml.
inline constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

}  // namespace edgefit::quant
