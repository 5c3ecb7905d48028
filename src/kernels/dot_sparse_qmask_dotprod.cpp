// The Q4_QMASK62 kernel of the NEON-dotprod table: dot_sparse_qmask_neon.inc with sdot, which
// sums each dword lane's 4 byte products in one instruction (compiled with +dotprod, so called
// only where the dispatch found it). Bit-identical to ref_dot_q4_qmask62 (exact integer sums).
#include <arm_neon.h>

#include <bit>
#include <cstdint>

#include "core/fp16.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "kernels/panel.h"
#include "kernels/qmask_act.h"
#include "kernels/sparse_gemm.h"
#include "quant/q_sparse.h"

namespace edgefit::kernels::detail {

namespace {

inline int32x4_t lane_dot(int32x4_t acc, int8x16_t w, int8x16_t x) {
  return vdotq_s32(acc, w, x);
}

#include "kernels/dot_sparse_qmask_neon.inc"

}  // namespace

FormatKernels neon_dotprod_sparse_qmask62_kernels(const FormatKernels& scalar_twin) {
  return qmask62_entry(scalar_twin);
}

}  // namespace edgefit::kernels::detail
