// AArch64 Advanced SIMD kernels without the dot-product extension (Cortex-A53/A55 class without
// ARMv8.2 dotprod, Raspberry Pi 3/4). The code is shared with dot_neon_dotprod.cpp.
#include "kernels/dot_neon_impl.inc"

namespace edgefit::kernels::detail {

const KernelDispatch& neon_dispatch() {
  static const KernelDispatch kd = make_table(Isa::kNeon, "neon");
  return kd;
}

}  // namespace edgefit::kernels::detail
