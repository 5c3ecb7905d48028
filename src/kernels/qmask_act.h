// Internal to src/kernels: what the table-expand Q4_QMASK62 kernels share (dot_sparse_avx2.cpp
// pshufb, dot_sparse_neon.cpp and dot_sparse_qmask_dotprod.cpp tbl): the activations prepared once
// per token in slot order (q_sparse.h) and the byte-shuffle controls that expand one mask byte's
// levels into its 8 slots. Portable constexpr data and declarations only, so every ISA-flagged
// file may include it; the preparation is defined in dot_sparse_scalar.cpp (portable code).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"
#include "quant/block_formats.h"
#include "quant/q_sparse.h"

namespace edgefit::kernels::detail {

// One prepared activation block: the Q8_K quants in slot order, so dword lane l of mask word w
// (slots 64w + 4l … 64w + 4l + 3) holds weights of quarter l % 4 only.
struct alignas(64) QMaskSlotAct {
  int8_t qs[kSparseBlock];  // the Q8_K quants in slot order (qmask62_position)
  int32_t start[16];        // [l]: −8 · Σ of the 16 quants in lane l of the 4 words
  float d;                  // the Q8_K block's scale
};
static_assert(sizeof(QMaskSlotAct) == 384);

// Bytes of n weights' prepared activations.
size_t qmask_slot_act_bytes(int64_t n);
// One Q8_K block in slot order with its lane sums (exact integers: any summation order).
void qmask_slot_act_from_q8_k(const quant::BlockQ8_K& q, QMaskSlotAct* out);
// n floats quantized to Q8_K (the scalar quantize_act_q8_k) and reordered: QMaskSlotAct rows.
void prep_qmask_slot_act(const float* x, int64_t n, void* out);
// The same with q8_k (an ISA's byte-identical Q8_K quantization, e.g. prep_avx512_q8_k) quantizing
// each block: every kernel of the type reads one layout, prepared by this one loop.
void prep_qmask_slot_act_via(const float* x, int64_t n, void* out, PrepareActFn q8_k);

// [p][m]: the byte-shuffle control (8 bytes, little-endian) that puts the kept levels of mask byte
// m, read from a source whose byte p is the byte's first level, at its kept slots: slot i gets
// p + (kept slots below i), a pruned slot 0x80 (pshufb and tbl both read it as 0). p = 0 … 8: a
// 16-byte source can serve two mask bytes, the second's levels starting after the first's.
struct QMaskExpandControls {
  uint64_t at[9][256];  // [offset of the first level][mask byte]
};
constexpr QMaskExpandControls make_qmask_expand_controls() {
  QMaskExpandControls t{};
  for (int p = 0; p <= 8; ++p)
    for (int m = 0; m < 256; ++m) {
      uint64_t c = 0;
      int k = p;
      for (int i = 0; i < 8; ++i) c |= uint64_t((m >> i) & 1 ? k++ : 0x80) << (8 * i);
      t.at[p][m] = c;
    }
  return t;
}
alignas(64) inline constexpr QMaskExpandControls kQMaskExpand = make_qmask_expand_controls();

}  // namespace edgefit::kernels::detail
