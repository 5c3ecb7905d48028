// Whether this process may run Intel AMX (Advanced Matrix Extensions) tile instructions.
//
// Two things must both hold, and they are checked in one place, once per process:
//   1. the CPU has the instructions: CPUID.(EAX=7,ECX=0):EDX bit 24 (AMX-TILE), bit 25
//      (AMX-INT8), bit 22 (AMX-BF16), and the OS enabled the tile state in XCR0 (bits 17
//      XTILECFG and 18 XTILEDATA);
//   2. the kernel lets this process use the 8 KiB tile data state: Linux (5.16+) hands it out on
//      request only, `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA = 18)`; without that
//      grant the first tile instruction kills the process with SIGILL. The grant is process-wide
//      (every thread, present and future).
// If either fails AMX counts as "not supported", with the reason, so the dispatch falls back to
// AVX-512 VNNI and tests can say why they skipped. Builds for other architectures never have AMX.
#pragma once

#include <cstdint>
#include <string>

namespace edgefit::kernels {

// The 64-byte operand of ldtilecfg (palette 1), shared by every AMX kernel (the int8 prefill
// gemm here, training's bf16 products).
struct alignas(64) TileConfig {
  uint8_t palette = 1;        // palette 1: 8 tiles of up to 16 rows × 64 bytes
  uint8_t start_row = 0;      // restart point after an interrupted tile load/store
  uint8_t reserved[14] = {};  // must be zero
  uint16_t colsb[16] = {};    // bytes per row of tile i
  uint8_t rows[16] = {};      // rows of tile i
};
static_assert(sizeof(TileConfig) == 64, "ldtilecfg reads 64 bytes");

// What amx_support() found.
struct AmxSupport {
  bool int8 = false;   // AMX-TILE + AMX-INT8 usable: tile state granted by the kernel
  bool bf16 = false;   // AMX-TILE + AMX-BF16 usable (training's bf16 products)
  std::string reason;  // why int8 is false ("" when it is true), for logs and skipped tests
};

// Probed on first call (CPUID, XGETBV, then the arch_prctl request); the same answer afterwards.
const AmxSupport& amx_support();

}  // namespace edgefit::kernels
