// SmoothQuant (Xiao et al., 2023) W8A8: activations have outlier channels that make per-token
// INT8 rounding coarse, weights do not. Dividing input channel j by s_j and multiplying weight
// column j by s_j (folded into the preceding RMSNorm gain, so the float function is unchanged)
// migrates part of the difficulty from activations to weights:
//     s_j = max|X_j|^α / max|W_j|^(1−α)
// with the migration strength α (0.5 by default; max|W_j| over every weight sharing the input).
// Weights are then INT8, symmetric, one scale per output channel; activations are quantized to
// INT8 per token at run time (kernels/w8a8_gemm.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace edgefit {

struct SmoothQuantOptions {
  double alpha = 0.5;  // migration strength: 0 keeps activations as they are, 1 flattens them
};

// A weight [rows, cols] row-major f32 fed by the smoothed input.
struct WeightRef {
  const float* w = nullptr;  // weight
  int64_t rows = 0;          // output channels
};

// The smoothing factors s_j (>= 1e-5) for an input with per-channel max |x| act_max[cols].
std::vector<float> smoothquant_scales(const float* act_max, std::span<const WeightRef> weights,
                                      int64_t cols, double alpha);

// Symmetric per-output-channel INT8: scale_o = max_i |w[o, i]| / 127 and
// q[o, i] = round(w[o, i] / scale_o) in [−127, 127] (an all-zero row gets scale 0).
void quantize_int8_per_channel(const float* w, int64_t rows, int64_t cols, int8_t* q,
                               float* scales);

}  // namespace edgefit
