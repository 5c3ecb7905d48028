// AVX-VNNI kernels: AVX2 + FMA + F16C with the VEX-encoded 256-bit vpdpbusd (Intel Alder Lake and
// later client cores, which have no AVX-512). This file alone is compiled with -mavxvnni and only
// runs after the CPUID check. Code shared with dot_avx2.cpp (dot_avx2_impl.inc); the tests run
// the same code with the EVEX encoding on AVX-512 VNNI machines (tests/kernels/avxvnni_twin.cpp).
#define EDGEFIT_AVX_VNNI 1
#include "kernels/dot_avx2_impl.inc"

namespace edgefit::kernels::detail {

const KernelDispatch& avxvnni_dispatch() {
  static const KernelDispatch kd = make_table(Isa::kAvxVnni, "avxvnni");
  return kd;
}

}  // namespace edgefit::kernels::detail
