// The one CPU-feature probe: what this CPU (and, for the vector-register states, its OS) can run,
// read once per process. Kernel dispatch, attention, device profiles, W8A8 and bench all ask it,
// so they can never disagree about the machine they run on.
#pragma once

#include <string>

namespace edgefit {

struct CpuFeatures {
  // x86-64 (CPUID; the AVX / AVX-512 flags also need the OS to save those registers, XGETBV).
  bool intel = false;         // vendor "GenuineIntel" (CPUID leaf 0): kernels tune their software
                              // prefetch by it (kernels/prefetch.h)
  bool avx2 = false;          // AVX2 integer and float 256-bit vectors
  bool fma = false;           // fused multiply-add (FMA3)
  bool f16c = false;          // F16 <-> F32 conversion (vcvtph2ps)
  bool avx512f = false;       // AVX-512 foundation
  bool avx512bw = false;      // AVX-512 byte and word instructions
  bool avx512vl = false;      // AVX-512 instructions on 128/256-bit registers
  bool avx512vnni = false;    // AVX-512 VNNI (vpdpbusd on zmm)
  bool avxvnni = false;       // VEX-encoded VNNI (vpdpbusd on ymm, no AVX-512 needed)
  bool avx512_bf16 = false;   // AVX-512 BF16 dot products
  bool avx512_fp16 = false;   // AVX-512 FP16 arithmetic
  bool amx_tile = false;      // AMX tiles, CPUID only: the OS permission request stays with the AMX
                              // kernels (arch_prctl), which must ask before their first use
  bool amx_int8 = false;      // AMX int8 tile products (CPUID only, as amx_tile)
  bool amx_bf16 = false;      // AMX bf16 tile products (CPUID only, as amx_tile)
  bool avx512_vbmi2 = false;  // AVX-512 VBMI2 (byte/word compress, expand, shifts)
  bool avx512_vbmi = false;   // AVX-512 VBMI (vpermb: any-byte permutes of a 512-bit register)
  bool gfni = false;          // GFNI (gf2p8affineqb: any bit matrix per byte, e.g. a nibble shift)
  // AArch64 (HWCAP / HWCAP2).
  bool neon = false;       // Advanced SIMD (mandatory on AArch64)
  bool dotprod = false;    // SDOT/UDOT int8 dot products
  bool i8mm = false;       // SMMLA int8 matrix multiply
  bool bf16 = false;       // BFDOT/BFMMLA bf16 instructions
  std::string model_name;  // "AMD EPYC 9R14 …": /proc/cpuinfo, else the CPUID brand string;
                           // "unknown CPU" where neither says anything
};

// The probe's result, computed on first use and the same for the rest of the process.
const CpuFeatures& cpu_features();

// The probe itself (tests compare it with other sources; everything else uses cpu_features()).
CpuFeatures detect_cpu_features();

}  // namespace edgefit
