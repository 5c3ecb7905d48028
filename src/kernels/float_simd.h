// The f32 SIMD level for per-ISA float code outside the integer kernels (model/attention's fused
// kernel, train/gemm's Eigen products): files compiled for AVX2+FMA+F16C or AVX-512 F/BW/VL,
// chosen from the runtime kernels' ISA (kernel_dispatch(), so EDGEFIT_ISA forces it too) and
// never above what the CPU has.
#pragma once

namespace edgefit::kernels {

enum class FloatSimd { kGeneric, kAvx2, kAvx512 };

// Whether this CPU runs the files compiled for `level` (kGeneric: always).
bool cpu_runs(FloatSimd level);

// The level the process's kernel ISA asks for, capped by cpu_runs().
FloatSimd float_simd();

}  // namespace edgefit::kernels
