#include "train/swiglu.h"

#include <cmath>

#include "core/thread_pool.h"

namespace edgefit::train {
namespace {

float sigmoid(float z) {
  // Both branches stay finite for any finite z.
  if (z >= 0) return 1.0f / (1.0f + std::exp(-z));
  const float e = std::exp(z);
  return e / (1.0f + e);
}

}  // namespace

// Elements are independent: the pool splits them in chunks of kGrain (same bits for any thread
// count).
constexpr int64_t kGrain = 4096;

void swiglu_forward(const float* gate, const float* up, int64_t n, float* h) {
  ThreadPool::global().parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) h[i] = gate[i] * sigmoid(gate[i]) * up[i];
  });
}

void swiglu_backward(const float* gate, const float* up, const float* dh, int64_t n, float* d_gate,
                     float* d_up) {
  ThreadPool::global().parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float s = sigmoid(gate[i]);
      const float silu = gate[i] * s;
      const float d = dh[i];
      d_up[i] = d * silu;
      d_gate[i] = d * up[i] * s * (1.0f + gate[i] * (1.0f - s));
    }
  });
}

}  // namespace edgefit::train
