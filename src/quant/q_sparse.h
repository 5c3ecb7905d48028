// Sparse storage formats that remove bytes: pruned weights are not stored at all. These are
// edgefit's own GGUF types (core/dtype.h: Q4_2OF4 = 200, Q4_MASK50 = 201, Q4_MASK62 = 202,
// Q4_QMASK62 = 203; the files carry `edgefit.sparse = true`); llama.cpp refuses them as an invalid
// tensor type. The int8-dot kernels live in src/kernels (dot_sparse_*).
//
// As a quantization type (quant_traits), the input's exact zeros are the pruned weights: a
// pruned model (edgefit prune, dense with exact zeros) quantizes with `--type q4_2of4`,
// `q4_mask50` or `q4_mask62`. A 2:4 group with more than 2 nonzeros, or a mask block with more
// nonzeros than its capacity, is an Error naming the block (quantize_tensor adds the row).
//
// Both formats cover 256 weights of a row per block (QK_K, so rows the K-quants accept fit) and
// store the kept values as ordinary Q4_0 blocks: 32 values, an fp16 scale d, value = d·(q − 8),
// quantized by ggml's own Q4_0 reference. A kernel thus reuses the Q4_0 int8 dot product on the
// activations gathered at the kept positions (AVX-512 VBMI2 vpexpandb/vpcompressb expand or
// compress masked bytes in registers; NEON uses a shuffle table per mask byte). Only the kept
// values are stored, so they read as exact zeros whatever the value format.
//
// - BlockQ4_2of4: the 2:4 pattern. Every group of 4 consecutive weights keeps (at most) 2; a
//   4-bit index per group names their positions p0 < p1 (p0 in bits 0–1, p1 in bits 2–3; groups
//   2k and 2k+1 share byte k, low nibble first), and the 128 kept values follow in weight order
//   in 4 Q4_0 blocks. 32 + 4·18 = 104 bytes per 256 weights = 3.25 bits per weight (dense Q4_0:
//   4.5). A group that keeps fewer than 2 stores a zero value at its first pruned position. Of the
//   16 nibbles only the 6 with p0 < p1 are valid: any other is a corrupt block.
// - BlockQ4_Mask<C>: unstructured at ≥ 1 − C/256 sparsity per block. A 256-bit mask (bit i%8 of
//   byte i/8 set = weight i kept) and room for C kept values in weight order, C/32 Q4_0 blocks;
//   slots past the block's count hold zeros. C = 128 (≥ 50 %): 104 bytes, 3.25 bits per weight;
//   C = 96 (≥ 62.5 %): 86 bytes, 2.69 bits per weight. A block keeping more than C weights cannot
//   be stored, so the pruning must bound every 256-block, not only the row: MaskScope::
//   kPerRowBlock does, for every method (exact counts per 256-block; q4_qmask62: below); a mask
//   with more bits than C set is a corrupt block. The bitmask costs 1 bit per weight, the same as
//   the 2:4 index, which is why both formats come out at 104 bytes at 50 %.
// - BlockQ4_QMask62: the same mask size and capacity 96 as Q4_MASK62, but the values are not Q4_0
//   blocks: one fp16 scale per 64-weight quarter, value = d_q·(level − 8) for a kept weight of
//   quarter q. Mask and levels are in slot order, not weight order: slot s (0-255) is weight
//   qmask62_position(s) (below), bit s % 8 of mask byte s / 8 is set when that weight is kept, and
//   level k of the block is that of the k-th kept slot. Level k is the low nibble of byte k for
//   k < 48 and the high nibble of byte k − 48 otherwise (Q4_0's split halves, 48 wide), so one
//   and, one shift and one and unpack all 96. Slots past the block's count hold level 8 (adds
//   exactly 0). 32 + 8 + 48 = 88 bytes per 256 weights = 2.75 bits per weight.
//   Why quarters: a Q4_MASK62 value block's 32 values span a variable range of positions, so a
//   kernel must gather the activations (compress); here a scale covers a fixed position set, so a
//   kernel expands each 64-slot word's levels into slot order (vpexpandb, 8 where pruned) and
//   takes a plain int8 dot with activations prepared once per token in slot order (kernels.h,
//   "The sparse types"). Why slot order: slots 64w … 64w + 63 (mask word w) hold 16 weights of
//   every quarter, dword lane l (slots 4l … 4l + 3 of the word) weights of quarter l % 4, so the
//   4 words' dot products add into one integer register whose lane l has quarter l % 4's scale:
//   one conversion and one FMA per block instead of one per quarter. Each quarter is quantized
//   like ggml's Q4_0 reference generalised to its kept count (0-64): d = (value of largest
//   magnitude) / −8; with importance, ggml's importance search (make_qx_quants) against it,
//   keeping the better under the importance-weighted error.
//   Packed at load (kernels.h PackedQ4_QMask62Block) where every block keeps at most 48 in each
//   slot half (slots 0-127 = weights 64q + 0 … 31 of the quarters q, slots 128-255 the other 32 of
//   each): the AVX-512 kernel's nibble split needs it. Pruning into q4_qmask62 keeps it: magnitude
//   and Wanda choose each half's 48 whole (MaskScope::kPerRowHalfBlock), SparseGPT and `edgefit
//   synth` keep at most 12 of every aligned 32 (prune/sparse_formats.h). The format itself still
//   holds any 96 of 256; such blocks run on the as-stored kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "quant/block_formats.h"
#include "quant/format_grid.h"

namespace edgefit {

inline constexpr int kSparseBlock = quant::kQK_K;  // weights per sparse block
// The 2:4 nibble p0 | p1 << 2 is valid only for p0 < p1.
constexpr bool valid_2of4_nibble(int nib) {
  return (nib & 3) < (nib >> 2);
}

struct BlockQ4_2of4 {
  uint8_t idx[kSparseBlock / 4 / 2];  // 64 groups × 4 bits: positions p0 | p1 << 2
  quant::BlockQ4_0 values[kSparseBlock / 2 / quant::kQK];  // the 128 kept values in weight order
};
static_assert(sizeof(BlockQ4_2of4) == 104);

template <int kCapacity>
struct BlockQ4_Mask {
  static_assert(kCapacity % quant::kQK == 0 && kCapacity > 0 && kCapacity <= kSparseBlock);
  static constexpr int capacity = kCapacity;        // kept values a block can hold
  uint8_t mask[kSparseBlock / 8];                   // bit set = weight kept
  quant::BlockQ4_0 values[kCapacity / quant::kQK];  // kept values in weight order, then zeros
};
using BlockQ4_Mask50 = BlockQ4_Mask<128>;  // ≥ 50 % sparse per block
using BlockQ4_Mask62 = BlockQ4_Mask<96>;   // ≥ 62.5 % sparse per block
static_assert(sizeof(BlockQ4_Mask50) == 104);
static_assert(sizeof(BlockQ4_Mask62) == 86);

struct BlockQ4_QMask62 {
  static constexpr int capacity = 96;         // kept values a block can hold
  static constexpr int kQuarter = 64;         // weights per scale (one mask word)
  static constexpr int kHalf = capacity / 2;  // levels per nibble half (low: 0-47, high: 48-95)
  uint8_t mask[kSparseBlock / 8];             // bit s set = the weight of slot s kept
  uint16_t d[kSparseBlock / kQuarter];        // fp16 scale of each 64-weight quarter
  uint8_t qs[capacity / 2];                   // levels: byte j = level j | level j + 48 << 4
};
static_assert(sizeof(BlockQ4_QMask62) == 88);
static_assert(offsetof(BlockQ4_QMask62, d) == 32 && offsetof(BlockQ4_QMask62, qs) == 40);

// Encodes n weights (a whole number of 256-blocks) with their mask (1 = pruned; the pruned
// weights' values are ignored). importance: null, or n per-weight importances for the Q4_0
// quantizer (gathered like the values). Throws Error when n is not whole blocks or when a group
// keeps more than 2 of 4 (2:4) or a block more than its capacity (mask), naming the block.
void encode_q4_2of4(const float* w, const uint8_t* pruned, int64_t n, const float* importance,
                    BlockQ4_2of4* out);
template <int kCapacity>
void encode_q4_mask(const float* w, const uint8_t* pruned, int64_t n, const float* importance,
                    BlockQ4_Mask<kCapacity>* out);

// Decodes n weights (pruned ones exactly +0). Throws Error naming the block on a corrupt index
// (p0 >= p1) or a mask with more bits set than the capacity.
void decode_q4_2of4(const BlockQ4_2of4* in, int64_t n, float* out);
template <int kCapacity>
void decode_q4_mask(const BlockQ4_Mask<kCapacity>* in, int64_t n, float* out);

// The same for Q4_QMASK62 (pruned: 1 = pruned; importance as above).
void encode_q4_qmask62(const float* w, const uint8_t* pruned, int64_t n, const float* importance,
                       BlockQ4_QMask62* out);
void decode_q4_qmask62(const BlockQ4_QMask62* in, int64_t n, float* out);
// The weight (0-255) in slot s of a Q4_QMASK62 block: slot 64w + 4l + i (mask word w, dword lane
// l, byte i) is weight i of the 4-weight group 4w + l / 4 of quarter l % 4.
constexpr int qmask62_position(int s) {
  const int w = s / 64, l = s % 64 / 4, i = s % 4;
  return BlockQ4_QMask62::kQuarter * (l % 4) + 16 * w + 4 * (l / 4) + i;
}
// Level k (0 … 95) of a Q4_QMASK62 block.
inline int qmask62_level(const BlockQ4_QMask62& b, int k) {
  return k < BlockQ4_QMask62::kHalf ? b.qs[k] & 0xF : b.qs[k - BlockQ4_QMask62::kHalf] >> 4;
}

// Checks every index nibble (2:4) or mask popcount (mask formats) of n weights' blocks without
// decoding: returns the first corrupt block's index and a description, or -1. The loader runs
// it on every sparse tensor so the kernels may trust their input.
int64_t find_corrupt_sparse_block(DType t, const void* blocks, int64_t n, std::string* why);

// SparseGPT's joint pass into a sparse type (prune/sparsegpt.h): a GPTQ grid (format_grid.h),
// value = step · (q − 8), or nullptr for other types. Not in the traits table, so GPTQ proper
// (which moves the pruned zeros) never targets the sparse types. The type's quantizer fits a
// block with the pruned weights at exactly 0, so its index or mask is the pruning mask; decode
// gives each position it keeps the scale of its value block and every other position step 0;
// pack keeps index, mask and scales and writes the codes of the kept positions only.
const FormatGrid* sparse_format_grid(DType type);

// The quant_traits rows: quantize (exact zeros = pruned) and dequantize.
void quantize_row_q4_2of4(const float* src, void* dst, int64_t n, const float* importance);
void quantize_row_q4_mask50(const float* src, void* dst, int64_t n, const float* importance);
void quantize_row_q4_mask62(const float* src, void* dst, int64_t n, const float* importance);
void quantize_row_q4_qmask62(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_row_q4_2of4(const void* src, float* dst, int64_t n);
void dequantize_row_q4_mask50(const void* src, float* dst, int64_t n);
void dequantize_row_q4_mask62(const void* src, float* dst, int64_t n);
void dequantize_row_q4_qmask62(const void* src, float* dst, int64_t n);

}  // namespace edgefit
