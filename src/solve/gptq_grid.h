// GPTQ's rounding onto a format's fixed grid: the grid itself (codes, decode, pack) is a field of
// the format's row in the traits table (quant/format_grid.h, quant/quant_traits.h); this header
// holds what GPTQ and SparseGPT do with it — the value of a code and the nearest code to a weight.
#pragma once

#include <cstdint>

#include "quant/format_grid.h"

namespace edgefit {

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
