// AMX detection and the tile-state permission request (amx_tiles.h). Plain x86-64 code: CPUID and
// XGETBV are read with inline asm, so this file needs no ISA flags and runs on every CPU.
#include "kernels/amx_tiles.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace edgefit::kernels {

namespace {

#if defined(__x86_64__)

// CPUID.(EAX=7,ECX=0):EDX feature bits.
constexpr uint32_t kAmxBf16Bit = 1u << 22;
constexpr uint32_t kAmxTileBit = 1u << 24;
constexpr uint32_t kAmxInt8Bit = 1u << 25;
// CPUID.1:ECX bit 27: the OS enabled XSAVE and XGETBV (OSXSAVE).
constexpr uint32_t kOsXsaveBit = 1u << 27;
// XCR0 bits of the two AMX state components.
constexpr uint64_t kXcr0TileCfg = 1ull << 17;
constexpr uint64_t kXcr0TileData = 1ull << 18;
// Linux arch_prctl codes (asm/prctl.h, 5.16+), spelled out so older headers still build.
constexpr int kArchGetXcompPerm = 0x1022;
constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtileData = 18;

uint64_t xgetbv0() {
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

AmxSupport probe() {
  AmxSupport s;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    s.reason = "CPUID leaf 7 not available";
    return s;
  }
  const bool tile = (d & kAmxTileBit) != 0, int8 = (d & kAmxInt8Bit) != 0;
  const bool bf16 = (d & kAmxBf16Bit) != 0;
  if (!tile || !int8) {
    s.reason = "the CPU has no AMX-TILE/AMX-INT8";
    return s;
  }
  unsigned a1, b1, c1, d1;
  if (!__get_cpuid(1, &a1, &b1, &c1, &d1) || (c1 & kOsXsaveBit) == 0) {
    s.reason = "the OS does not enable XSAVE (no XGETBV)";
    return s;
  }
  const uint64_t xcr0 = xgetbv0();
  if ((xcr0 & kXcr0TileCfg) == 0 || (xcr0 & kXcr0TileData) == 0) {
    s.reason = "the OS does not enable the AMX tile state (XCR0 bits 17/18)";
    return s;
  }
#if defined(__linux__)
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtileData) != 0) {
    s.reason = std::string(
                   "the kernel refused the AMX tile state (arch_prctl "
                   "ARCH_REQ_XCOMP_PERM: ") +
               std::strerror(errno) + ")";
    return s;
  }
  // Read the grant back: a kernel that accepted the request grants bit 18.
  unsigned long perm = 0;
  if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &perm) != 0 ||
      (perm & (1ul << kXfeatureXtileData)) == 0) {
    s.reason = "the kernel did not grant the AMX tile state (ARCH_GET_XCOMP_PERM)";
    return s;
  }
#else
  s.reason = "AMX tile permission is only requested on Linux";
  return s;
#endif
  s.int8 = true;
  s.bf16 = bf16;
  return s;
}

#else

AmxSupport probe() {
  AmxSupport s;
  s.reason = "not an x86-64 build";
  return s;
}

#endif

}  // namespace

const AmxSupport& amx_support() {
  static const AmxSupport s = probe();
  return s;
}

}  // namespace edgefit::kernels
