// The AVX-512 (F, BW, VL, VNNI) kernel table. Its kernels are split by op, tile and ISA:
//   gemv_q_avx512vnni.cpp        integer formats, one token: the table's dot, the gemm's decode
//   gemm_q_panel_avx512vnni.cpp  integer formats, many tokens: panel building, token blocks, and
//                                the fast unpacker (avx512vnni_unpack)
//   gemm_q_4x3_avx512vnni.cpp    the integer gemm's 4-row × 3-token register tiles and epilogue
//   gemm_f_4x4_avx512vnni.cpp    float weights (F32, F16, BF16; row-interleaved too)
// with their shared code in common_avx512vnni.inc and unpack_avx512vnni.inc (the weight
// unpackers) and what they call across files in avx512vnni_kernels.h. Each of these files alone is
// compiled with the AVX-512 flags and only runs after the CPUID check.
//
// No std:: templates or core/ inline helpers are used in them: an out-of-line copy compiled with
// AVX-512 flags could be picked by the linker for code that runs on any CPU. (The cross-file
// templates of avx512vnni_kernels.h are this table's own, defined in one AVX-512 file each.)
#include "kernels/avx512vnni_kernels.h"

namespace edgefit::kernels::detail {
namespace {

// The entry of format F (kPacked: its repacked rows); weight and activation types and packing
// come from F itself (isa_tables.h), so a misplaced entry fails the slot test.
template <QFormat F, bool kPacked = false>
constexpr FormatKernels qk(ActRowBytesFn bytes, PrepareActFn prep) {
  return {qformat_dtype(F),
          kPacked ? qformat_packing(F) : uint8_t{0},
          qformat_act_dtype(F),
          qformat_info(F).block_elems,
          bytes,
          prep,
          avx512vnni_dot_q<F, kPacked>,
          avx512vnni_gemm_q<F, kPacked>};
}
template <DType W>
constexpr FormatKernels fk() {
  return {W,
          0,
          DType::F32,
          1,
          f32_act_bytes,
          copy_f32_act,
          avx512vnni_dot_f<W>,
          avx512vnni_gemm_f<W, false>};
}
// Row-interleaved float weights: gemm only (one row of a group is not contiguous).
template <DType W>
constexpr FormatKernels fk_x4() {
  return {
      W,       float_x4_packing(W),       DType::F32, kInterleaveRun, f32_act_bytes, copy_f32_act,
      nullptr, avx512vnni_gemm_f<W, true>};
}

KernelDispatch make_table() {
  using F = QFormat;
  using S = KernelSlot;
  KernelDispatch kd{Isa::kAvx512Vnni, "avx512vnni"};
  kd.set(S::kQ8_0, qk<F::kQ8_0>(panel_act_bytes_q8_0, prep_avx512_q8_0_s128))
      .set(S::kQ4_0, qk<F::kQ4_0>(panel_act_bytes_q8_0, prep_avx512_q8_0_s8))
      .set(S::kQ4_1, qk<F::kQ4_1>(panel_act_bytes_q8_0, prep_avx512_q8_0_s1))
      .set(S::kQ5_0, qk<F::kQ5_0>(panel_act_bytes_q8_0, prep_avx512_q8_0_s16))
      .set(S::kQ5_1, qk<F::kQ5_1>(panel_act_bytes_q8_0, prep_avx512_q8_0_s1))
      .set(S::kIQ4_NL, qk<F::kIQ4_NL>(panel_act_bytes_q8_0, prep_avx512_q8_0_s128))
      .set(S::kQ2_K, qk<F::kQ2_K>(panel_act_bytes_k16, prep_avx512_k16_s1))
      .set(S::kQ3_K, qk<F::kQ3_K>(panel_act_bytes_k16, prep_avx512_k16_s4))
      .set(S::kQ4_K, qk<F::kQ4_K>(panel_act_bytes_k32, prep_avx512_k32_s1))
      .set(S::kQ5_K, qk<F::kQ5_K>(panel_act_bytes_k32, prep_avx512_k32_s1))
      .set(S::kQ6_K, qk<F::kQ6_K>(panel_act_bytes_k16, prep_avx512_k16_s32))
      .set(S::kF16, fk<DType::F16>())
      .set(S::kBF16, fk<DType::BF16>())
      .set(S::kF32, fk<DType::F32>())
      .set(S::kQ4_0x16, qk<F::kQ4_0, true>(panel_act_bytes_q8_0, prep_avx512_q8_0_s8))
      .set(S::kQ8_0x16, qk<F::kQ8_0, true>(panel_act_bytes_q8_0, prep_avx512_q8_0_s128))
      .set(S::kQ4_Kx2, qk<F::kQ4_K, true>(panel_act_bytes_k32, prep_avx512_k32_s1))
      .set(S::kQ6_Kx1, qk<F::kQ6_K, true>(panel_act_bytes_k16, prep_avx512_k16_s32))
      .set(S::kF16x4, fk_x4<DType::F16>())
      .set(S::kBF16x4, fk_x4<DType::BF16>())
      .set(S::kF32x4, fk_x4<DType::F32>());
  add_sparse_kernels(kd);  // last: the sparse slots (dot_sparse_*.cpp)
  return kd;
}

}  // namespace

const KernelDispatch& avx512vnni_dispatch() {
  static const KernelDispatch kd = make_table();
  return kd;
}

}  // namespace edgefit::kernels::detail
