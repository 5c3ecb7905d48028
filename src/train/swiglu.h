// SwiGLU with its backward: h = SiLU(gate) · up, SiLU(z) = z · σ(z).
//   d_up = dh · SiLU(gate),  d_gate = dh · up · σ(gate) · (1 + gate · (1 − σ(gate)))
// The forward keeps gate and up (not h) so the backward can use them; σ is recomputed.
#pragma once

#include <cstdint>

namespace edgefit::train {

// h[i] = SiLU(gate[i]) · up[i] for i < n (train/vector_math.h: Eigen's exp, within ~1 ulp of
// std::exp, not model/'s coarser approximation: gradients are checked against float64 PyTorch).
void swiglu_forward(const float* gate, const float* up, int64_t n, float* h);

// d_gate and d_up (overwritten) from the saved gate, up and the gradient dh. Element by element,
// each dh[i] read before d_gate[i] and d_up[i] are written, so either may alias dh.
void swiglu_backward(const float* gate, const float* up, const float* dh, int64_t n, float* d_gate,
                     float* d_up);

}  // namespace edgefit::train
