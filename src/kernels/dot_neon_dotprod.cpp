// AArch64 kernels with the ARMv8.2 dot-product extension (sdot / vdotq_s32): this file alone is
// compiled with +dotprod and only runs after HWCAP_ASIMDDP is seen. Code shared with dot_neon.cpp.
#define EDGEFIT_NEON_DOTPROD 1
#include "kernels/dot_neon_impl.inc"

namespace edgefit::kernels::detail {

const KernelDispatch& neon_dotprod_dispatch() {
  static const KernelDispatch kd = make_table(Isa::kNeonDotprod, "neon-dotprod");
  return kd;
}

}  // namespace edgefit::kernels::detail
