#include "train/swiglu.h"

#include "core/thread_pool.h"
#include "train/vector_math.h"

namespace edgefit::train {

// Elements are independent: the pool splits them in chunks of kGrain (same bits for any thread
// count: the vector math's results depend on the values only).
constexpr int64_t kGrain = 4096;

void swiglu_forward(const float* gate, const float* up, int64_t n, float* h) {
  const VectorMathTable& vec = vector_math();
  ThreadPool::global().parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    vec.swiglu_forward(gate + i0, up + i0, i1 - i0, h + i0);
  });
}

void swiglu_backward(const float* gate, const float* up, const float* dh, int64_t n, float* d_gate,
                     float* d_up) {
  const VectorMathTable& vec = vector_math();
  ThreadPool::global().parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    vec.swiglu_backward(gate + i0, up + i0, dh + i0, i1 - i0, d_gate + i0, d_up + i0);
  });
}

}  // namespace edgefit::train
