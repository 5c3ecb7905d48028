// Internal to src/kernels: the per-ISA tables and the pieces tests reach directly (the scalar
// reference dots, each ISA's fast weight unpacker, which must equal unpack_chunk_ref).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"
#include "kernels/panel.h"

namespace edgefit::kernels::detail {

// One table per ISA source file. Only called after the CPU check says the ISA runs here; the
// files of ISAs not built for this architecture are not linked, so dispatch.cpp guards on macros.
const KernelDispatch& scalar_dispatch();
const KernelDispatch& avx2_dispatch();
const KernelDispatch& avxvnni_dispatch();
const KernelDispatch& avx512vnni_dispatch();
const KernelDispatch& neon_dispatch();
const KernelDispatch& neon_dotprod_dispatch();
const KernelDispatch& avx512amx_dispatch();  // AMX: gemm_amx.cpp

// Unpacks chunk c of a weight row the way one ISA's kernels do (fast path for full chunks, the
// reference for a partial one); the bytes equal unpack_chunk_ref with that ISA's offset.
using UnpackChunkFn = void (*)(QFormat f, const void* row, int64_t n, int64_t c, void* out);
UnpackChunkFn avx2_unpack();
UnpackChunkFn avx512vnni_unpack();
// The offset an ISA stores weight levels with (panel.h weight_offset_for its WeightOperand).
int isa_weight_offset(Isa isa, QFormat f);

// What an integer kernel template for QFormat f registers itself as (FormatKernels' weight_type,
// act_type and packing) is derived from f (weight type: panel.h qformat_dtype, the one map), so
// that an entry set under the wrong slot is caught by the slot test (kernels_dot_test) rather
// than named by hand next to the slot.
constexpr DType qformat_act_dtype(QFormat f) {
  return qformat_info(f).block_elems == 256 ? DType::Q8_K : DType::Q8_0;
}
// The load-time packing of f's repacked rows (0: f has none).
constexpr uint8_t qformat_packing(QFormat f) {
  switch (f) {
    case QFormat::kQ8_0:
      return kPackingQ8_0x16;
    case QFormat::kQ4_0:
      return kPackingQ4_0x16;
    case QFormat::kQ4_K:
      return kPackingQ4_Kx2;
    case QFormat::kQ6_K:
      return kPackingQ6_Kx1;
    default:
      return 0;
  }
}
// The row-interleaved packing of a float weight type.
constexpr uint8_t float_x4_packing(DType t) {
  return t == DType::F16 ? kPackingF16x4 : t == DType::BF16 ? kPackingBF16x4 : kPackingF32x4;
}

// Scalar references on ggml's own activation blocks (BlockQ8_0 / BlockQ8_K / f32).
float ref_dot_q8_0(int64_t n, const void* w, const void* a);
float ref_dot_q4_0(int64_t n, const void* w, const void* a);
float ref_dot_q4_k(int64_t n, const void* w, const void* a);
float ref_dot_q5_k(int64_t n, const void* w, const void* a);
float ref_dot_q6_k(int64_t n, const void* w, const void* a);
float ref_dot_q4_1(int64_t n, const void* w, const void* a);
float ref_dot_q5_0(int64_t n, const void* w, const void* a);
float ref_dot_q5_1(int64_t n, const void* w, const void* a);
float ref_dot_iq4_nl(int64_t n, const void* w, const void* a);
float ref_dot_q2_k(int64_t n, const void* w, const void* a);
float ref_dot_q3_k(int64_t n, const void* w, const void* a);
float ref_dot_f16(int64_t n, const void* w, const void* a);
float ref_dot_bf16(int64_t n, const void* w, const void* a);
float ref_dot_f32(int64_t n, const void* w, const void* a);

// The sparse types' kernels (dot_sparse_scalar.cpp): their scalar references, and the registration
// every table builder calls last: the ISA's own kernels where it has them (AVX-512 VNNI with VBMI
// and VBMI2: dot_sparse_avx512.cpp; AVX2 and AVX-VNNI for 2:4: dot_sparse_avx2.cpp), else the
// scalar twins.
float ref_dot_q4_2of4(int64_t n, const void* w, const void* a);
float ref_dot_q4_mask50(int64_t n, const void* w, const void* a);
float ref_dot_q4_mask62(int64_t n, const void* w, const void* a);
float ref_dot_q4_qmask62(int64_t n, const void* w, const void* a);
void add_sparse_kernels(KernelDispatch& kd);
// The AVX-512 VBMI2 sparse kernels (vpcompressb gathers): slot entries for kd's sparse slots.
FormatKernels avx512_sparse_kernels(KernelSlot slot);
// Its Q4_QMASK62 entry (vpexpandb per mask word; dot_qmask_avx512.cpp).
FormatKernels avx512_qmask62_kernels();
// Its PackedQ4_QMask62Block entry (vpexpandb straight from the block; the same file).
FormatKernels avx512_qmask62_packed_kernels();
// The AVX2 2:4 kernel (table gathers): the scalar twin's entry with its dot and gemm replaced.
FormatKernels avx2_sparse_2of4_kernels(const FormatKernels& scalar_twin);
// The AVX2 mask kernels (pshufb per mask byte), likewise.
FormatKernels avx2_sparse_mask_kernels(const FormatKernels& scalar_twin);
// The NEON 2:4 kernel (tbl gathers; NEON and NEON-dotprod tables), likewise.
FormatKernels neon_sparse_2of4_kernels(const FormatKernels& scalar_twin);
// The NEON mask kernels (tbl per mask byte), likewise.
FormatKernels neon_sparse_mask_kernels(const FormatKernels& scalar_twin);
// The Q4_QMASK62 table-expand kernels (one shuffle control per mask byte, activations in slot
// order: qmask_act.h): AVX2 (pshufb; AVX2 and AVX-VNNI tables), NEON and NEON-dotprod (tbl).
FormatKernels avx2_sparse_qmask62_kernels(const FormatKernels& scalar_twin);
FormatKernels neon_sparse_qmask62_kernels(const FormatKernels& scalar_twin);
FormatKernels neon_dotprod_sparse_qmask62_kernels(const FormatKernels& scalar_twin);

// Shared by every table: f32 activations are used as they are.
void copy_f32_act(const float* x, int64_t n, void* out);
size_t f32_act_bytes(int64_t n);

// Panel activation preparation per (format family, sum multiplier), defined in panel.cpp so no
// ISA-flagged file instantiates them.
void prep_panel_q8_0_s1(const float* x, int64_t n, void* out);
void prep_panel_q8_0_s8(const float* x, int64_t n, void* out);
void prep_panel_q8_0_s128(const float* x, int64_t n, void* out);
void prep_panel_k32_s1(const float* x, int64_t n, void* out);
void prep_panel_k16_s1(const float* x, int64_t n, void* out);
void prep_panel_k16_s32(const float* x, int64_t n, void* out);
// The same preparations vectorised with AVX-512 (act_prep_avx512.cpp; byte-identical).
void prep_avx512_q8_0_s1(const float* x, int64_t n, void* out);
void prep_avx512_q8_0_s8(const float* x, int64_t n, void* out);
void prep_avx512_q8_0_s16(const float* x, int64_t n, void* out);
void prep_avx512_q8_0_s128(const float* x, int64_t n, void* out);
void prep_avx512_k32_s1(const float* x, int64_t n, void* out);
void prep_avx512_k16_s1(const float* x, int64_t n, void* out);
void prep_avx512_k16_s4(const float* x, int64_t n, void* out);
void prep_avx512_k16_s32(const float* x, int64_t n, void* out);
void prep_avx512_q8_k(const float* x, int64_t n, void* out);  // BlockQ8_K rows (sparse types)
// And with AVX2 for the AVX2 and AVX-VNNI tables (act_prep_avx2.cpp; byte-identical).
void prep_avx2_q8_0_s1(const float* x, int64_t n, void* out);
void prep_avx2_q8_0_s8(const float* x, int64_t n, void* out);
void prep_avx2_q8_0_s16(const float* x, int64_t n, void* out);
void prep_avx2_k32_s1(const float* x, int64_t n, void* out);
void prep_avx2_k16_s1(const float* x, int64_t n, void* out);
void prep_avx2_k16_s4(const float* x, int64_t n, void* out);
void prep_avx2_k16_s32(const float* x, int64_t n, void* out);
void prep_avx2_q8_k(const float* x, int64_t n, void* out);  // BlockQ8_K rows (sparse types)
size_t panel_act_bytes_q8_0(int64_t n);
size_t panel_act_bytes_k32(int64_t n);
size_t panel_act_bytes_k16(int64_t n);

// What a per-thread scratch holds. Two slots because a matmul's calling thread holds its prepared
// activations while it also runs tasks, each unpacking weight panels into its own scratch.
enum class ScratchSlot : int {
  kPanel = 0,        // unpacked weight panels of one task (the gemm kernels)
  kActivations = 1,  // the prepared activation rows of one matmul call (matmul.cpp)
};
// A 64-byte aligned per-thread scratch of at least `bytes` in `slot` (grows, never shrinks; the
// contents do not survive a growth). Defined in a portable file so no ISA-flagged code
// instantiates allocator templates.
void* thread_scratch(size_t bytes, ScratchSlot slot = ScratchSlot::kPanel);

}  // namespace edgefit::kernels::detail
