// Choosing the kernel table: what this binary was built with, what the CPU reports (CPUID on
// x86-64, HWCAP on aarch64, both via core/cpu_features), and the EDGEFIT_ISA override.
#include <cstdlib>
#include <string>

#include "core/cpu_features.h"
#include "core/error.h"
#include "kernels/amx_tiles.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"

namespace edgefit::kernels {

namespace {

constexpr const char* kNames[kNumIsas] = {"scalar", "avx2",         "avxvnni",  "avx512vnni",
                                          "neon",   "neon-dotprod", "avx512amx"};

bool cpu_runs(Isa isa) {
  const CpuFeatures& cpu = cpu_features();
  switch (isa) {
    case Isa::kScalar:
      return true;
#if defined(__x86_64__)
    case Isa::kAvx2:
      // The probe's AVX flags include the OS saving the wider registers (XGETBV).
      return cpu.avx2 && cpu.fma && cpu.f16c;
    case Isa::kAvxVnni:
      return cpu_runs(Isa::kAvx2) && cpu.avxvnni;
    case Isa::kAvx512Vnni:
      return cpu_runs(Isa::kAvx2) && cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512vnni;
    case Isa::kAvx512Amx:  // AMX: CPUID, XCR0 and the kernel's tile-state grant (amx_tiles.h)
      return cpu_runs(Isa::kAvx512Vnni) && amx_support().int8;
#endif
#if defined(__aarch64__)
    case Isa::kNeon:
      return cpu.neon;
    case Isa::kNeonDotprod:
      return cpu.dotprod;
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

namespace {

// Indexed by KernelSlot (the static_asserts below pin the order).
constexpr KernelSlotInfo kSlots[kNumKernelSlots] = {
    {DType::Q8_0, 0, "q8_0"},
    {DType::Q4_0, 0, "q4_0"},
    {DType::Q4_1, 0, "q4_1"},
    {DType::Q5_0, 0, "q5_0"},
    {DType::Q5_1, 0, "q5_1"},
    {DType::IQ4_NL, 0, "iq4_nl"},
    {DType::Q2_K, 0, "q2_k"},
    {DType::Q3_K, 0, "q3_k"},
    {DType::Q4_K, 0, "q4_k"},
    {DType::Q5_K, 0, "q5_k"},
    {DType::Q6_K, 0, "q6_k"},
    {DType::F16, 0, "f16"},
    {DType::BF16, 0, "bf16"},
    {DType::F32, 0, "f32"},
    {DType::Q4_0, kPackingQ4_0x16, "q4_0_x16"},
    {DType::Q8_0, kPackingQ8_0x16, "q8_0_x16"},
    {DType::Q4_K, kPackingQ4_Kx2, "q4_k_x2"},
    {DType::Q6_K, kPackingQ6_Kx1, "q6_k_x1"},
    {DType::F16, kPackingF16x4, "f16_x4"},
    {DType::BF16, kPackingBF16x4, "bf16_x4"},
    {DType::F32, kPackingF32x4, "f32_x4"},
    {DType::Q4_2OF4, 0, "q4_2of4"},
    {DType::Q4_MASK50, 0, "q4_mask50"},
    {DType::Q4_MASK62, 0, "q4_mask62"},
    {DType::Q4_2OF4, kPackingQ4_2of4x1, "q4_2of4_x1"},
    {DType::Q4_MASK50, kPackingQ4_Mask50x1, "q4_mask50_x1"},
    {DType::Q4_MASK62, kPackingQ4_Mask62x1, "q4_mask62_x1"},
    {DType::Q4_QMASK62, 0, "q4_qmask62"},
    {DType::Q4_QMASK62, kPackingQ4_QMask62x1, "q4_qmask62_x1"},
};
static_assert(kSlots[static_cast<int>(KernelSlot::kQ6_K)].weight_type == DType::Q6_K);
static_assert(kSlots[static_cast<int>(KernelSlot::kF32)].weight_type == DType::F32);
static_assert(kSlots[static_cast<int>(KernelSlot::kF32x4)].packing == kPackingF32x4);

// Packed slots follow the ggml-layout ones in packing order.
static_assert(kSlots[static_cast<int>(KernelSlot::kQ4_0x16)].packing == kPackingQ4_0x16);
static_assert(kSlots[static_cast<int>(KernelSlot::kQ4_Mask62)].weight_type == DType::Q4_MASK62);
static_assert(kSlots[static_cast<int>(KernelSlot::kQ4_2of4x1)].packing == kPackingQ4_2of4x1);
static_assert(kSlots[static_cast<int>(KernelSlot::kQ4_Mask62x1)].packing == kPackingQ4_Mask62x1);
static_assert(kSlots[static_cast<int>(KernelSlot::kQ4_QMask62)].weight_type == DType::Q4_QMASK62);
static_assert(kSlots[static_cast<int>(KernelSlot::kQ4_QMask62x1)].packing == kPackingQ4_QMask62x1);

// A missing row would leave a zero row behind (F32, packing 0) and a repeated one shadow its
// twin in kernel_slot's search: both make two rows alike.
constexpr bool slots_distinct() {
  for (int a = 0; a < kNumKernelSlots; ++a)
    for (int b = a + 1; b < kNumKernelSlots; ++b)
      if (kSlots[a].weight_type == kSlots[b].weight_type && kSlots[a].packing == kSlots[b].packing)
        return false;
  return true;
}
static_assert(slots_distinct(), "kSlots: one row per (format, packing), none missing");

}  // namespace

KernelSlotInfo kernel_slot_info(KernelSlot slot) {
  return kSlots[static_cast<int>(slot)];
}

std::optional<KernelSlot> kernel_slot(DType t, uint8_t packing) {
  // Derived from kSlots (the one table of slots), not a second list.
  for (int s = 0; s < kNumKernelSlots; ++s)
    if (kSlots[s].weight_type == t && kSlots[s].packing == packing)
      return static_cast<KernelSlot>(s);
  return std::nullopt;
}

const FormatKernels* KernelDispatch::find(DType weight_type) const {
  const std::optional<KernelSlot> s = kernel_slot(weight_type);
  if (!s) return nullptr;
  const FormatKernels& k = at(*s);
  return k.vec_dot != nullptr ? &k : nullptr;
}

namespace detail {

int isa_weight_offset(Isa isa, QFormat f) {
  switch (isa) {
    case Isa::kAvx512Vnni:  // vpdpbusd: weights are the unsigned operand
    case Isa::kAvx512Amx:   // its unpacked formats are the VNNI table's
      return weight_offset_for(WeightOperand::kVpdpbusd, f);
    case Isa::kAvx2:     // maddubs (sign trick for Q8_0 and IQ4_NL)
    case Isa::kAvxVnni:  // the AVX2 code and encoding with vpdpbusd (dot_avx2_impl.inc)
      return weight_offset_for(WeightOperand::kMaddubs, f);
    default:  // NEON sdot / smull: signed levels on both sides
      return weight_offset_for(WeightOperand::kSigned, f);
  }
}

}  // namespace detail
}  // namespace edgefit::kernels
