// The representable values of a quantization block once its scales are fixed, for every block
// format of the traits table GPTQ can target.
//
// GPTQ rounds one column at a time and pushes each rounding error onto the columns not yet
// rounded, so it cannot call a format's quantizer on a finished row: the quantizer would pick new
// scales for weights GPTQ has already committed to. Instead, when GPTQ reaches a block it lets
// the format's own quantizer choose the block's scales (and mins) from the current weights, keeps
// those bytes, and from then on only moves each weight to a level of that fixed grid. Every
// format's grid is affine per weight: value = step · level(q) + offset, with q an integer code in
// [q_min, q_max] and level(q) = q − zero (or a table entry for IQ4_NL). step and offset come
// from the block's decoded scales, computed with the same float operations as the format's
// dequantizer, so the packed bytes dequantize bit for bit to the values GPTQ used.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace edgefit {

struct FormatGrid {
  DType type;           // the block format
  int block_size;       // weights per block (32 or 256)
  size_t type_size;     // bytes per block
  int q_min, q_max;     // codes a weight may take (inclusive)
  int zero;             // level(q) = q − zero when table is null
  const int8_t* table;  // level(q) = table[q] (IQ4_NL's non-linear grid), or null
  bool has_offset;      // value adds the offset (asymmetric formats); symmetric ones do not, so
                        // that a zero keeps the sign the dequantizer gives it
  // Per weight of one block: step[j] and offset[j] from the block's scale bytes.
  void (*decode)(const void* block, float* step, float* offset);
  // Stores the codes q[0 … block_size) into the block, keeping its scales.
  void (*pack)(void* block, const uint8_t* q);
};

// The grid description of `type`, or nullptr when GPTQ cannot target it (float types, IQ2…).
const FormatGrid* format_grid(DType type);

// The code of the grid value nearest to w, and that value, for one weight with the given step and
// offset. A zero step (an all-zero sub-block) maps every code to `offset`; the code then is the
// one nearest to level 0.
inline int grid_round(const FormatGrid& g, float step, float offset, float w, float* value);

// The value of code q: step · level(q) + offset — the dequantizer's expression.
inline float grid_value(const FormatGrid& g, float step, float offset, int q) {
  const int level = g.table ? g.table[q] : q - g.zero;
  const float v = step * static_cast<float>(level);
  return g.has_offset ? v + offset : v;
}

inline int grid_round(const FormatGrid& g, float step, float offset, float w, float* value) {
  int q;
  if (g.table) {
    // Non-linear table: scan it (16 entries) for the nearest value.
    q = g.q_min;
    float best = -1;
    for (int c = g.q_min; c <= g.q_max; ++c) {
      const float e = grid_value(g, step, offset, c) - w;
      const float a = e < 0 ? -e : e;
      if (best < 0 || a < best) best = a, q = c;
    }
  } else if (step == 0.0f) {
    q = g.zero < g.q_min ? g.q_min : (g.zero > g.q_max ? g.q_max : g.zero);
  } else {
    const float t = (w - offset) / step;
    // Clamp before converting so huge ratios stay defined; the grid is at most 256 codes wide.
    const float lo = static_cast<float>(g.q_min - g.zero),
                hi = static_cast<float>(g.q_max - g.zero);
    const float c = t < lo ? lo : (t > hi ? hi : t);
    q = static_cast<int>(c < 0 ? c - 0.5f : c + 0.5f) + g.zero;
    if (q < g.q_min) q = g.q_min;
    if (q > g.q_max) q = g.q_max;
  }
  *value = grid_value(g, step, offset, q);
  return q;
}

}  // namespace edgefit
