// RMSNorm with saved statistics and its backward, for the block norms (rows of d_model) and
// qwen3's per-head q/k norms (rows of head_dim sharing one gain vector).
//
//   y = x · r · g,  r = 1 / sqrt(mean(x²) + eps)
//   dx = r · (dy·g − x · r² · mean(dy·g·x)),  dg += Σ_rows dy · x · r
// Sums of squares and the per-row mean are taken in double; dg is accumulated in double over
// rows and added once, so it does not depend on how rows were split.
#pragma once

#include <cstdint>

namespace edgefit::train {

// y[r, :] = rmsnorm(x[r, :]) · g for r < n_rows rows of `width`; inv_rms[r] = r (saved for the
// backward). y may alias x.
void rms_norm_forward(const float* x, const float* g, int64_t n_rows, int64_t width, float eps,
                      float* y, float* inv_rms);

// dx (overwritten) and dg (accumulated) from the forward's input x, gain g, saved inv_rms and
// the output gradient dy. dx may alias dy.
void rms_norm_backward(const float* x, const float* g, const float* inv_rms, const float* dy,
                       int64_t n_rows, int64_t width, float* dx, float* dg);

}  // namespace edgefit::train
