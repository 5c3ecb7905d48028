// 16-float vector math shared by the forward pass's non-matmul loops (attention's softmax, the
// FFN's SiLU). GCC vector types, no intrinsics: the same source is a zmm register in an
// AVX-512 clone, two ymm in an AVX2 one, four xmm (or NEON registers) otherwise. Everything is
// always inlined into functions compiled per target (EDGEFIT_MULTIVERSION), so no vector crosses a
// call boundary.
#pragma once

#include <cstdint>
#include <cstring>

// GCC warns that passing 64-byte vectors by value would have another ABI without AVX-512; these
// helpers are always inlined, so nothing is passed.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace edgefit::simd {

typedef float f16v __attribute__((vector_size(64)));
typedef int32_t i16v __attribute__((vector_size(64)));

#define EDGEFIT_ALWAYS_INLINE inline __attribute__((always_inline))

// Compiles a function for AVX-512 (x86-64-v4), AVX2 and baseline x86-64; the loader picks one
// per CPU (function multiversioning), so one binary runs well on all of them.
#if defined(__x86_64__) && !defined(__clang__)
#define EDGEFIT_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define EDGEFIT_MULTIVERSION
#endif

EDGEFIT_ALWAYS_INLINE f16v load16(const float* p) {
  f16v v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
EDGEFIT_ALWAYS_INLINE void store16(float* p, f16v v) {
  std::memcpy(p, &v, sizeof v);
}
EDGEFIT_ALWAYS_INLINE f16v splat(float x) {
  return f16v{} + x;
}

// e^x for x <= 0 (softmax arguments after subtracting the max, SiLU's e^-|g|): x = n·ln2 + r,
// |r| <= ln2/2, e^r by Cephes' degree-6 polynomial (relative error ~1e-7), 2^n assembled in the
// exponent bits. Below -87 it returns ~1e-38 instead of denormals or 0.
EDGEFIT_ALWAYS_INLINE f16v exp16(f16v x) {
  x = x < -87.0f ? splat(-87.0f) : x;
  const f16v magic = splat(12582912.0f);  // 1.5·2^23: adding it rounds to an integer
  const f16v n = (x * 1.44269504088896341f + magic) - magic;
  const f16v r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  f16v p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const i16v bits = (__builtin_convertvector(n, i16v) + 127) << 23;
  f16v two_n;
  std::memcpy(&two_n, &bits, sizeof two_n);
  return p * two_n;
}

}  // namespace edgefit::simd
