// The SwiGLU gate of the Llama-family feed-forward: gate ← SiLU(gate) · up, element-wise.
//
// Decoding one token runs it over d_ff values (5632 for TinyLlama) once per layer. As a scalar
// std::exp loop split over the pool it took ~2 % of decode time (a pool wake-up and ~10 ns per
// value); vectorised it is a few microseconds on the calling thread.
#pragma once

#include <cstdint>

namespace edgefit {

// gate[i] ← gate[i] / (1 + e^-gate[i]) · up[i] for i < n. Vectorised (simd_math.h's exp16,
// relative error ~1e-7 against std::exp); finite for every finite input.
void swiglu(float* gate, const float* up, int64_t n);

// The scalar definition swiglu() is tested against.
void swiglu_reference(float* gate, const float* up, int64_t n);

}  // namespace edgefit
