#include "train/attention.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/thread_pool.h"
#include "train/linear.h"

namespace edgefit::train {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Strided = Eigen::Map<const RowMajor, 0, Eigen::OuterStride<>>;
using StridedOut = Eigen::Map<RowMajor, 0, Eigen::OuterStride<>>;

// Row strides and the head grouping, derived once.
struct Layout {
  int64_t q_stride, kv_stride;  // floats per position in q/out and in k/v
  int hd, group;                // head_dim; query heads per KV head
};

Layout layout_of(const AttentionShape& s) {
  return {int64_t{s.n_heads} * s.head_dim, int64_t{s.n_kv_heads} * s.head_dim, s.head_dim,
          s.n_heads / s.n_kv_heads};
}

// Rows [t0, t1) of one head's [n, hd] slice of a strided activation.
Strided rows_of(const float* base, int64_t stride, int64_t col, int64_t t0, int64_t t1, int hd) {
  return Strided(base + t0 * stride + col, t1 - t0, hd, Eigen::OuterStride<>(stride));
}
StridedOut rows_out(float* base, int64_t stride, int64_t col, int64_t t0, int64_t t1, int hd) {
  return StridedOut(base + t0 * stride + col, t1 - t0, hd, Eigen::OuterStride<>(stride));
}

}  // namespace

void attention_forward(const AttentionShape& s, const float* q, const float* k, const float* v,
                       int64_t n, float* out, float* lse) {
  const Layout L = layout_of(s);
  const int64_t n_blocks = (n + kAttentionRows - 1) / kAttentionRows;
  ThreadPool::global().parallel_for(int64_t{s.n_heads} * n_blocks, 1, [&](int64_t b, int64_t e) {
    RowMajor p;  // the block's probabilities [rows, t1]
    for (int64_t item = b; item < e; ++item) {
      const int h = static_cast<int>(item / n_blocks);
      const int64_t t0 = item % n_blocks * kAttentionRows, t1 = std::min(n, t0 + kAttentionRows);
      const int64_t qc = int64_t{h} * L.hd, kc = int64_t{h / L.group} * L.hd;
      p.noalias() = s.scale * (rows_of(q, L.q_stride, qc, t0, t1, L.hd) *
                               rows_of(k, L.kv_stride, kc, 0, t1, L.hd).transpose());
      for (int64_t t = t0; t < t1; ++t) {
        float* row = p.row(t - t0).data();
        const float mx = *std::max_element(row, row + t + 1);
        double sum = 0;
        for (int64_t j = 0; j <= t; ++j) {
          row[j] = std::exp(row[j] - mx);
          sum += row[j];
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t j = 0; j <= t; ++j) row[j] *= inv;
        std::fill(row + t + 1, row + t1, 0.0f);
        lse[int64_t{h} * n + t] = mx + static_cast<float>(std::log(sum));
      }
      rows_out(out, L.q_stride, qc, t0, t1, L.hd).noalias() =
          p * rows_of(v, L.kv_stride, kc, 0, t1, L.hd);
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
  ThreadPool::global().parallel_for(s.n_kv_heads, 1, [&](int64_t g0, int64_t g1) {
    RowMajor p, dp;  // one query block's probabilities and their gradient [rows, t1]
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t kc = g * L.hd;
      rows_out(dk, L.kv_stride, kc, 0, n, L.hd).setZero();
      rows_out(dv, L.kv_stride, kc, 0, n, L.hd).setZero();
      for (int h = static_cast<int>(g) * L.group; h < (g + 1) * L.group; ++h) {
        const int64_t qc = int64_t{h} * L.hd;
        for (int64_t t0 = 0; t0 < n; t0 += kAttentionRows) {
          const int64_t t1 = std::min(n, t0 + kAttentionRows);
          const Strided qs = rows_of(q, L.q_stride, qc, t0, t1, L.hd);
          const Strided dos = rows_of(dout, L.q_stride, qc, t0, t1, L.hd);
          const Strided ks = rows_of(k, L.kv_stride, kc, 0, t1, L.hd);
          const Strided vs = rows_of(v, L.kv_stride, kc, 0, t1, L.hd);
          p.noalias() = s.scale * (qs * ks.transpose());
          dp.noalias() = dos * vs.transpose();
          // p_tj = exp(s_tj − lse_t) and ds_tj = p_tj (dp_tj − D_t), zero for keys after t.
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t off = t * L.q_stride + qc;
            const float l = lse[int64_t{h} * n + t];
            const float D = dot_f32(dout + off, out + off, L.hd);
            float* pr = p.row(t - t0).data();
            float* dr = dp.row(t - t0).data();
            for (int64_t j = 0; j <= t; ++j) {
              pr[j] = std::exp(pr[j] - l);
              dr[j] = pr[j] * (dr[j] - D);
            }
            std::fill(pr + t + 1, pr + t1, 0.0f);
            std::fill(dr + t + 1, dr + t1, 0.0f);
          }
          rows_out(dq, L.q_stride, qc, t0, t1, L.hd).noalias() = s.scale * (dp * ks);
          rows_out(dk, L.kv_stride, kc, 0, t1, L.hd).noalias() += s.scale * (dp.transpose() * qs);
          rows_out(dv, L.kv_stride, kc, 0, t1, L.hd).noalias() += p.transpose() * dos;
        }
      }
    }
  });
}

}  // namespace edgefit::train
