#include "train/rms_norm.h"

#include <cmath>
#include <vector>

#include "core/thread_pool.h"

namespace edgefit::train {

// Rows (and, for the gain gradient, columns) are independent, so the pool splits them freely:
// every output keeps one writer and its serial order, the same bits for any thread count.

void rms_norm_forward(const float* x, const float* g, int64_t n_rows, int64_t width, float eps,
                      float* y, float* inv_rms) {
  ThreadPool::global().parallel_for(n_rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * width;
      double ss = 0;
      for (int64_t i = 0; i < width; ++i) ss += static_cast<double>(xr[i]) * xr[i];
      const float s = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(width) + eps));
      inv_rms[r] = s;
      float* yr = y + r * width;
      for (int64_t i = 0; i < width; ++i) yr[i] = xr[i] * s * g[i];
    }
  });
}

void rms_norm_backward(const float* x, const float* g, const float* inv_rms, const float* dy,
                       int64_t n_rows, int64_t width, float* dx, float* dg) {
  ThreadPool& pool = ThreadPool::global();
  // The gain's gradient first (dx may alias dy): column blocks, each summing its rows in order.
  pool.parallel_for(width, 64, [&](int64_t i0, int64_t i1) {
    std::vector<double> sum(static_cast<size_t>(i1 - i0), 0.0);
    for (int64_t r = 0; r < n_rows; ++r) {
      const float* xr = x + r * width;
      const float* dyr = dy + r * width;
      const double s = inv_rms[r];
      for (int64_t i = i0; i < i1; ++i)
        sum[static_cast<size_t>(i - i0)] += static_cast<double>(dyr[i]) * xr[i] * s;
    }
    for (int64_t i = i0; i < i1; ++i) dg[i] += static_cast<float>(sum[static_cast<size_t>(i - i0)]);
  });
  pool.parallel_for(n_rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * width;
      const float* dyr = dy + r * width;
      const double s = inv_rms[r];
      double dot = 0;  // Σ dy·g·x
      for (int64_t i = 0; i < width; ++i) dot += static_cast<double>(dyr[i]) * g[i] * xr[i];
      const double c = s * s * dot / static_cast<double>(width);
      float* dxr = dx + r * width;
      for (int64_t i = 0; i < width; ++i)
        dxr[i] = static_cast<float>(s * (static_cast<double>(dyr[i]) * g[i] - xr[i] * c));
    }
  });
}

}  // namespace edgefit::train
