// AVX2 + FMA + F16C kernels (x86-64-v3 without VNNI): vpdpbusd emulated by maddubs + madd. This
// file alone is compiled with those flags and only runs after the CPUID check. Code shared with
// dot_avxvnni.cpp (dot_avx2_impl.inc).
#include "kernels/dot_avx2_impl.inc"

namespace edgefit::kernels::detail {

UnpackChunkFn avx2_unpack() {
  return unpack_any;
}

const KernelDispatch& avx2_dispatch() {
  static const KernelDispatch kd = make_table(Isa::kAvx2, "avx2");
  return kd;
}

}  // namespace edgefit::kernels::detail
