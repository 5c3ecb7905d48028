// The AVX-VNNI table's code with the EVEX encoding of its 256-bit vpdpbusd (AVX-512 VL + VNNI), so
// hosts without AVX-VNNI (this project's CI machines are AVX-512 ones) still run and test it.
// Compiled with those flags (CMakeLists.txt) and only called after the CPUID check for them.
// Everything but the encoding of the dot instruction is the production table's code.
#define EDGEFIT_AVX_VNNI_EVEX 1
#include "kernels/dot_avx2_impl.inc"

namespace edgefit::kernels::test_twin {

const KernelDispatch& avxvnni_evex_dispatch() {
  static const KernelDispatch kd = detail::make_table(Isa::kAvxVnni, "avxvnni-evex-twin");
  return kd;
}

}  // namespace edgefit::kernels::test_twin
