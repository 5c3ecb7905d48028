// The representable values of a quantization block once its scales are fixed: one field of each
// format's row in the traits table (quant_traits.h), for the block formats GPTQ can target.
//
// GPTQ rounds one column at a time and pushes each rounding error onto the columns not yet
// rounded, so it cannot call a format's quantizer on a finished row: the quantizer would pick new
// scales for weights GPTQ has already committed to. Instead, when GPTQ reaches a block it lets
// the format's own quantizer choose the block's scales (and mins) from the current weights, keeps
// those bytes, and from then on only moves each weight to a level of that fixed grid. Every
// format's grid is affine per weight: value = step · level(q) + offset, with q an integer code in
// [q_min, q_max] and level(q) = q − zero (or a table entry for IQ4_NL). step and offset come
// from the block's decoded scales, computed with the same float operations as the format's
// dequantizer, so the packed bytes dequantize bit for bit to the values GPTQ used. The rounding
// itself is GPTQ's math and lives with it (solve/gptq_grid.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace edgefit {

struct FormatGrid {
  DType type = DType::F32;        // the block format (filled in by its traits row)
  int block_size = 0;             // weights per block (32 or 256; from core/dtype)
  size_t type_size = 0;           // bytes per block (from core/dtype)
  int q_min = 0, q_max = 0;       // codes a weight may take (inclusive)
  int zero = 0;                   // level(q) = q − zero when table is null
  const int8_t* table = nullptr;  // level(q) = table[q] (IQ4_NL's non-linear grid), or null
  bool has_offset = false;        // value adds the offset (asymmetric formats); symmetric ones do
                                  // not, so that a zero keeps the sign the dequantizer gives it
  // Per weight of one block: step[j] and offset[j] from the block's scale bytes (null: GPTQ
  // cannot target the format).
  void (*decode)(const void* block, float* step, float* offset) = nullptr;
  // Stores the codes q[0 … block_size) into the block, keeping its scales.
  void (*pack)(void* block, const uint8_t* q) = nullptr;
};

// The grid of `type`'s traits row, or nullptr when GPTQ cannot target it (float types, IQ2…).
const FormatGrid* format_grid(DType type);

}  // namespace edgefit
