// RMSNorm, the Llama family's only normalisation: y = x / sqrt(mean(x²) + eps) · g.
//
// Decode runs it twice per layer over d_model values on the calling thread while the pool waits.
// As a scalar loop with one double accumulator (an add-latency chain) it took ~3 µs per 2048
// values on Zen 4, ~0.4 % of a layer each; eight double lanes take a fraction of that.
#pragma once

#include <cstdint>

namespace edgefit {

// y[i] = x[i] · s · g[i] with s = 1 / sqrt(Σx² / n + eps), the sum of squares accumulated in
// double (as ggml does) over eight lanes. y may equal x (in place).
void rms_norm(const float* x, const float* g, float* y, int64_t n, float eps);

}  // namespace edgefit
