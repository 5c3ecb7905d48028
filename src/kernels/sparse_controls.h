// Internal to src/kernels: the byte-shuffle controls of the sparse table kernels (2:4 and masks:
// dot_sparse_avx2.cpp pshufb, dot_sparse_neon.cpp tbl). Portable constexpr data only, so every
// ISA-flagged file may include it.
#pragma once

#include <array>
#include <cstdint>

namespace edgefit::kernels::detail {

// Index byte k (groups 2k, 2k+1; nibbles p0 | p1 << 2) → the byte-shuffle control of its 4 kept
// weights within its 8: {p0, p1} of the low nibble, {4 + p0, 4 + p1} of the high one.
constexpr std::array<uint32_t, 256> make_2of4_controls() {
  std::array<uint32_t, 256> t{};
  for (uint32_t k = 0; k < 256; ++k) {
    const uint32_t lo = k & 0xF, hi = k >> 4;
    t[k] = (lo & 3) | (lo >> 2) << 8 | (4 + (hi & 3)) << 16 | (4 + (hi >> 2)) << 24;
  }
  return t;
}
alignas(64) inline constexpr std::array<uint32_t, 256> k2of4Controls = make_2of4_controls();

// Mask byte m (8 weights, bit set = kept) → the byte-shuffle control that packs its kept bytes to
// the front in order (8 control bytes, little-endian), the rest 0x80 (zero).
constexpr std::array<uint64_t, 256> make_compress8_controls() {
  std::array<uint64_t, 256> t{};
  for (uint32_t m = 0; m < 256; ++m) {
    uint64_t c = 0x8080808080808080ull;
    int k = 0;
    for (int i = 0; i < 8; ++i)
      if ((m >> i) & 1) {
        c &= ~(uint64_t{0xFF} << (8 * k));
        c |= uint64_t(i) << (8 * k++);
      }
    t[m] = c;
  }
  return t;
}
alignas(64) inline constexpr std::array<uint64_t, 256> kCompress8Controls =
    make_compress8_controls();

}  // namespace edgefit::kernels::detail
