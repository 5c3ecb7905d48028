// Choosing the kernel table: what this binary was built with, what the CPU reports (CPUID on
// x86-64, HWCAP on aarch64), and the EDGEFIT_ISA override.
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "kernels/amx_tiles.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace edgefit::kernels {

namespace {

constexpr const char* kNames[kNumIsas] = {"scalar", "avx2",         "avxvnni",  "avx512vnni",
                                          "neon",   "neon-dotprod", "avx512amx"};

bool cpu_runs(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
#if defined(__x86_64__)
    case Isa::kAvx2:
      // __builtin_cpu_supports also checks that the OS saves the wider registers (XGETBV).
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
    case Isa::kAvxVnni:
      return cpu_runs(Isa::kAvx2) && __builtin_cpu_supports("avxvnni");
    case Isa::kAvx512Vnni:
      return cpu_runs(Isa::kAvx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vnni");
    case Isa::kAvx512Amx:  // AMX: CPUID, XCR0 and the kernel's tile-state grant (amx_tiles.h)
      return cpu_runs(Isa::kAvx512Vnni) && amx_support().int8;
#endif
#if defined(__aarch64__)
    case Isa::kNeon:
      return true;  // Advanced SIMD is mandatory on AArch64
    case Isa::kNeonDotprod:
#if defined(__linux__)
      return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
      return false;
#endif
#endif
    default:
      return false;
  }
}

const KernelDispatch& table(Isa isa) {
  switch (isa) {
#if defined(__x86_64__)
    case Isa::kAvx2:
      return detail::avx2_dispatch();
    case Isa::kAvxVnni:
      return detail::avxvnni_dispatch();
    case Isa::kAvx512Vnni:
      return detail::avx512vnni_dispatch();
    case Isa::kAvx512Amx:
      return detail::avx512amx_dispatch();
#endif
#if defined(__aarch64__)
    case Isa::kNeon:
      return detail::neon_dispatch();
    case Isa::kNeonDotprod:
      return detail::neon_dotprod_dispatch();
#endif
    default:
      return detail::scalar_dispatch();
  }
}

const KernelDispatch& select_from_env() {
  const char* env = std::getenv("EDGEFIT_ISA");
  if (env == nullptr || *env == '\0') return table(best_isa());
  const std::optional<Isa> isa = isa_from_name(env);
  if (!isa) {
    throw Error(std::string("EDGEFIT_ISA=") + env +
                ": unknown instruction set (scalar, avx2, avxvnni, avx512vnni, avx512amx, neon, "
                "neon-dotprod)");
  }
  return kernel_dispatch_for(*isa);
}

}  // namespace

const char* isa_name(Isa isa) {
  const int i = static_cast<int>(isa);
  return i >= 0 && i < kNumIsas ? kNames[i] : "unknown";
}

std::optional<Isa> isa_from_name(std::string_view name) {
  for (int i = 0; i < kNumIsas; ++i) {
    if (name == kNames[i]) return static_cast<Isa>(i);
  }
  return std::nullopt;
}

bool isa_supported(Isa isa) {
  return cpu_runs(isa);
}

Isa best_isa() {
  for (int i = kNumIsas - 1; i > 0; --i) {
    if (cpu_runs(static_cast<Isa>(i))) return static_cast<Isa>(i);
  }
  return Isa::kScalar;
}

const KernelDispatch& kernel_dispatch_for(Isa isa) {
  if (!isa_supported(isa)) {
    throw Error(std::string("instruction set ") + isa_name(isa) +
                " is not supported by this CPU or this build");
  }
  return table(isa);
}

const KernelDispatch& kernel_dispatch() {
  // A throwing initializer leaves the static unset, so a bad EDGEFIT_ISA fails every call.
  static const KernelDispatch& kd = select_from_env();
  return kd;
}

const FormatKernels* KernelDispatch::find(DType weight_type) const {
  for (const FormatKernels* k : {&q8_0, &q4_0, &q4_k, &q5_k, &q6_k, &f16, &bf16, &f32}) {
    if (k->weight_type == weight_type && k->vec_dot != nullptr) return k;
  }
  return nullptr;
}

namespace detail {

int isa_weight_offset(Isa isa, QFormat f) {
  switch (isa) {
    case Isa::kAvx512Vnni:  // vpdpbusd: weights are the unsigned operand
    case Isa::kAvx512Amx:   // its unpacked formats are the VNNI table's
      return f == QFormat::kQ8_0 ? 128 : f == QFormat::kQ4_0 ? 8 : f == QFormat::kQ6_K ? 32 : 0;
    case Isa::kAvx2:  // maddubs: Q8_0 stays signed (sign trick) because 255·127·2 overflows int16
    case Isa::kAvxVnni:  // the AVX2 code and encoding with vpdpbusd (dot_avx2_impl.inc)
      return f == QFormat::kQ4_0 ? 8 : f == QFormat::kQ6_K ? 32 : 0;
    default:  // NEON sdot / smull: signed levels on both sides
      return 0;
  }
}

}  // namespace detail
}  // namespace edgefit::kernels
