#include "train/linear.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "model/matmul.h"

namespace edgefit::train {

float dot_f32(const float* a, const float* b, int64_t n) {
  std::array<float, 8> acc{};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  for (int l = 0; i < n; ++i, ++l) acc[l] += a[i] * b[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

namespace {

// y[i] += a · x[i] for i < n.
void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// Rows per task: enough work per chunk that waking the pool pays off.
int64_t grain_for(int64_t work_per_item) {
  constexpr int64_t kMinWork = 1 << 14;
  return std::max<int64_t>(1, kMinWork / std::max<int64_t>(1, work_per_item));
}

}  // namespace

void linear_forward(const float* w, const float* b, int64_t n_out, int64_t n_in, const float* x,
                    int64_t n, float* y) {
  ThreadPool::global().parallel_for(n_out, grain_for(n * n_in), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* row = w + o * n_in;
      const float bias = b ? b[o] : 0.0f;
      for (int64_t t = 0; t < n; ++t) y[t * n_out + o] = dot_f32(x + t * n_in, row, n_in) + bias;
    }
  });
}

void linear_backward_input(const TensorView& w, const float* dy, int64_t n, float* dx,
                           bool accumulate) {
  const int64_t n_out = w.shape[0], n_in = w.shape[1];
  const bool direct = w.dtype == DType::F32 && w.is_contiguous() && w.packing == 0;
  // Token chunks: each dequantizes every weight row once, so a chunk of 16 tokens spends 1/16
  // of its work on dequantization (none for f32 weights, read in place).
  const int64_t grain = direct ? grain_for(n_out * n_in) : 16;
  ThreadPool::global().parallel_for(n, grain, [&](int64_t t0, int64_t t1) {
    if (!accumulate) std::memset(dx + t0 * n_in, 0, static_cast<size_t>((t1 - t0) * n_in) * 4);
    std::vector<float> buf(direct ? 0 : static_cast<size_t>(n_in));
    for (int64_t o = 0; o < n_out; ++o) {
      const float* row = reinterpret_cast<const float*>(w.row(o));
      if (!direct) {
        dequantize_row(w, o, buf.data());
        row = buf.data();
      }
      for (int64_t t = t0; t < t1; ++t) axpy(dy[t * n_out + o], row, dx + t * n_in, n_in);
    }
  });
}

void linear_backward_weight(const float* x, const float* dy, int64_t n, int64_t n_out, int64_t n_in,
                            float* dw, float* db) {
  ThreadPool::global().parallel_for(n_out, grain_for(n * n_in), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      float* row = dw + o * n_in;
      for (int64_t t = 0; t < n; ++t) axpy(dy[t * n_out + o], x + t * n_in, row, n_in);
      if (db) {
        double s = 0;
        for (int64_t t = 0; t < n; ++t) s += dy[t * n_out + o];
        db[o] += static_cast<float>(s);
      }
    }
  });
}

TensorView f32_matrix_view(const float* w, int64_t n_out, int64_t n_in) {
  const int64_t shape[2] = {n_out, n_in};
  return TensorView::contiguous(DType::F32, shape, w);
}

}  // namespace edgefit::train
