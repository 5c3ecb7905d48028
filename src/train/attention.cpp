#include "train/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/thread_pool.h"
#include "train/gemm.h"
#include "train/linear.h"
#include "train/vector_math.h"

namespace edgefit::train {
namespace {

// Row strides and the head grouping, derived once.
struct Layout {
  int64_t q_stride, kv_stride;  // floats per position in q/out and in k/v
  int hd, group;                // head_dim; query heads per KV head
};

Layout layout_of(const AttentionShape& s) {
  return {int64_t{s.n_heads} * s.head_dim, int64_t{s.n_kv_heads} * s.head_dim, s.head_dim,
          s.n_heads / s.n_kv_heads};
}

}  // namespace

void attention_forward(const AttentionShape& s, const float* q, const float* k, const float* v,
                       int64_t n, float* out, float* lse) {
  const Layout L = layout_of(s);
  const int64_t n_blocks = (n + kAttentionRows - 1) / kAttentionRows;
  const GemmTable& gemm = gemm_table();
  const VectorMathTable& vec = vector_math();
  ThreadPool::global().parallel_for(int64_t{s.n_heads} * n_blocks, 1, [&](int64_t b, int64_t e) {
    std::vector<float> p;  // the block's probabilities [rows, t1]
    for (int64_t item = b; item < e; ++item) {
      const int h = static_cast<int>(item / n_blocks);
      const int64_t t0 = item % n_blocks * kAttentionRows, t1 = std::min(n, t0 + kAttentionRows);
      const int64_t qc = int64_t{h} * L.hd, kc = int64_t{h / L.group} * L.hd;
      p.resize(static_cast<size_t>((t1 - t0) * t1));
      gemm.nt(t1 - t0, t1, L.hd, s.scale, q + t0 * L.q_stride + qc, L.q_stride, k + kc, L.kv_stride,
              p.data(), t1, false);
      for (int64_t t = t0; t < t1; ++t) {
        float* row = p.data() + (t - t0) * t1;
        const float mx = vec.max(row, t + 1);
        const double sum = vec.exp_shifted_sum(row, t + 1, mx, row);
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t j = 0; j <= t; ++j) row[j] *= inv;
        std::fill(row + t + 1, row + t1, 0.0f);
        lse[int64_t{h} * n + t] = mx + static_cast<float>(std::log(sum));
      }
      gemm.nn(t1 - t0, L.hd, t1, 1.0f, p.data(), t1, v + kc, L.kv_stride,
              out + t0 * L.q_stride + qc, L.q_stride, false);
    }
  });
}

void attention_backward(const AttentionShape& s, const float* q, const float* k, const float* v,
                        const float* out, const float* lse, const float* dout, int64_t n, float* dq,
                        float* dk, float* dv) {
  const Layout L = layout_of(s);
  // One task per KV head: it owns dk and dv of that head and dq of its query heads, and walks
  // them (heads in order, then query blocks in order), so every output has one writer and a
  // fixed order.
  const GemmTable& gemm = gemm_table();
  const VectorMathTable& vec = vector_math();
  ThreadPool::global().parallel_for(s.n_kv_heads, 1, [&](int64_t g0, int64_t g1) {
    std::vector<float> p, dp;  // one query block's probabilities and their gradient [rows, t1]
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t kc = g * L.hd;
      for (int64_t j = 0; j < n; ++j) {
        std::fill_n(dk + j * L.kv_stride + kc, L.hd, 0.0f);
        std::fill_n(dv + j * L.kv_stride + kc, L.hd, 0.0f);
      }
      for (int h = static_cast<int>(g) * L.group; h < (g + 1) * L.group; ++h) {
        const int64_t qc = int64_t{h} * L.hd;
        for (int64_t t0 = 0; t0 < n; t0 += kAttentionRows) {
          const int64_t t1 = std::min(n, t0 + kAttentionRows);
          const int64_t rows = t1 - t0;
          const float* qs = q + t0 * L.q_stride + qc;
          const float* dos = dout + t0 * L.q_stride + qc;
          p.resize(static_cast<size_t>(rows * t1));
          dp.resize(p.size());
          gemm.nt(rows, t1, L.hd, s.scale, qs, L.q_stride, k + kc, L.kv_stride, p.data(), t1,
                  false);
          gemm.nt(rows, t1, L.hd, 1.0f, dos, L.q_stride, v + kc, L.kv_stride, dp.data(), t1, false);
          // p_tj = exp(s_tj − lse_t) and ds_tj = p_tj (dp_tj − D_t), zero for keys after t.
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t off = t * L.q_stride + qc;
            const float l = lse[int64_t{h} * n + t];
            const float D = dot_f32(dout + off, out + off, L.hd);
            float* pr = p.data() + (t - t0) * t1;
            float* dr = dp.data() + (t - t0) * t1;
            vec.softmax_backward_row(pr, dr, t + 1, l, D);
            std::fill(pr + t + 1, pr + t1, 0.0f);
            std::fill(dr + t + 1, dr + t1, 0.0f);
          }
          gemm.nn(rows, L.hd, t1, s.scale, dp.data(), t1, k + kc, L.kv_stride,
                  dq + t0 * L.q_stride + qc, L.q_stride, false);
          gemm.tn(t1, L.hd, rows, s.scale, dp.data(), t1, qs, L.q_stride, dk + kc, L.kv_stride,
                  true);
          gemm.tn(t1, L.hd, rows, 1.0f, p.data(), t1, dos, L.q_stride, dv + kc, L.kv_stride, true);
        }
      }
    }
  });
}

}  // namespace edgefit::train
