#include "kernels/float_simd.h"

#include <string_view>

#include "core/cpu_features.h"
#include "kernels/kernels.h"

namespace edgefit::kernels {

bool cpu_runs(FloatSimd level) {
#if defined(__x86_64__)
  const CpuFeatures& cpu = cpu_features();
  const bool avx2 = cpu.avx2 && cpu.fma && cpu.f16c;
  if (level == FloatSimd::kAvx2) return avx2;
  if (level == FloatSimd::kAvx512) return avx2 && cpu.avx512f && cpu.avx512bw && cpu.avx512vl;
  return true;
#else
  return level == FloatSimd::kGeneric;
#endif
}

FloatSimd float_simd() {
  const std::string_view isa = kernel_dispatch().isa_name;
  if (isa.starts_with("avx512") && cpu_runs(FloatSimd::kAvx512)) return FloatSimd::kAvx512;
  if ((isa == "avx2" || isa == "avxvnni" || isa.starts_with("avx512")) &&
      cpu_runs(FloatSimd::kAvx2))
    return FloatSimd::kAvx2;
  return FloatSimd::kGeneric;
}

}  // namespace edgefit::kernels
