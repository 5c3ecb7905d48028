#include "train/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "train/linear.h"

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

// Items per parallel chunk: attention rows are short for small n, so batch them.
int64_t grain_for(int64_t n, int hd) {
  return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, n * hd));
}

}  // namespace

void attention_forward(const AttentionShape& s, const float* q, const float* k, const float* v,
                       int64_t n, float* out, float* lse) {
  const Layout L = layout_of(s);
  ThreadPool::global().parallel_for(
      int64_t{s.n_heads} * n, grain_for(n, L.hd), [&](int64_t b, int64_t e) {
        std::vector<float> scores(static_cast<size_t>(n));
        for (int64_t item = b; item < e; ++item) {
          const int h = static_cast<int>(item / n);
          const int64_t t = item % n;
          const int64_t kv_off = int64_t{h / L.group} * L.hd;
          const float* qt = q + t * L.q_stride + int64_t{h} * L.hd;
          float mx = -INFINITY;
          for (int64_t j = 0; j <= t; ++j) {
            scores[j] = s.scale * dot_f32(qt, k + j * L.kv_stride + kv_off, L.hd);
            mx = std::max(mx, scores[j]);
          }
          double sum = 0;
          for (int64_t j = 0; j <= t; ++j) {
            scores[j] = std::exp(scores[j] - mx);
            sum += scores[j];
          }
          float* ot = out + t * L.q_stride + int64_t{h} * L.hd;
          std::fill(ot, ot + L.hd, 0.0f);
          const float inv = static_cast<float>(1.0 / sum);
          for (int64_t j = 0; j <= t; ++j) {
            const float p = scores[j] * inv;
            const float* vj = v + j * L.kv_stride + kv_off;
            for (int d = 0; d < L.hd; ++d) ot[d] += p * vj[d];
          }
          lse[int64_t{h} * n + t] = mx + static_cast<float>(std::log(sum));
        }
      });
}

void attention_backward(const AttentionShape& s, const float* q, const float* k, const float* v,
                        const float* out, const float* lse, const float* dout, int64_t n, float* dq,
                        float* dk, float* dv) {
  const Layout L = layout_of(s);
  // D[h, t] = dout_t·out_t per query head, needed by both passes.
  std::vector<float> D(static_cast<size_t>(int64_t{s.n_heads} * n));
  for (int h = 0; h < s.n_heads; ++h)
    for (int64_t t = 0; t < n; ++t) {
      const int64_t off = t * L.q_stride + int64_t{h} * L.hd;
      D[static_cast<size_t>(h * n + t)] = dot_f32(dout + off, out + off, L.hd);
    }
  // Pass 1: dq, one (head, query) row per item, keys in order.
  ThreadPool::global().parallel_for(
      int64_t{s.n_heads} * n, grain_for(n, L.hd), [&](int64_t b, int64_t e) {
        for (int64_t item = b; item < e; ++item) {
          const int h = static_cast<int>(item / n);
          const int64_t t = item % n;
          const int64_t kv_off = int64_t{h / L.group} * L.hd;
          const int64_t off = t * L.q_stride + int64_t{h} * L.hd;
          const float* qt = q + off;
          const float* dot_ = dout + off;
          const float l = lse[h * n + t], Dt = D[static_cast<size_t>(h * n + t)];
          float* dqt = dq + off;
          std::fill(dqt, dqt + L.hd, 0.0f);
          for (int64_t j = 0; j <= t; ++j) {
            const float* kj = k + j * L.kv_stride + kv_off;
            const float p = std::exp(s.scale * dot_f32(qt, kj, L.hd) - l);
            const float ds = p * (dot_f32(dot_, v + j * L.kv_stride + kv_off, L.hd) - Dt);
            for (int d = 0; d < L.hd; ++d) dqt[d] += s.scale * ds * kj[d];
          }
        }
      });
  // Pass 2: dk and dv, one (KV head, key) row per item, query heads then queries in order.
  ThreadPool::global().parallel_for(
      int64_t{s.n_kv_heads} * n, grain_for(n, L.hd), [&](int64_t b, int64_t e) {
        for (int64_t item = b; item < e; ++item) {
          const int g = static_cast<int>(item / n);
          const int64_t j = item % n;
          const int64_t kv_off = j * L.kv_stride + int64_t{g} * L.hd;
          const float* kj = k + kv_off;
          const float* vj = v + kv_off;
          float* dkj = dk + kv_off;
          float* dvj = dv + kv_off;
          std::fill(dkj, dkj + L.hd, 0.0f);
          std::fill(dvj, dvj + L.hd, 0.0f);
          for (int h = g * L.group; h < (g + 1) * L.group; ++h)
            for (int64_t t = j; t < n; ++t) {
              const int64_t off = t * L.q_stride + int64_t{h} * L.hd;
              const float* qt = q + off;
              const float* dot_ = dout + off;
              const float p = std::exp(s.scale * dot_f32(qt, kj, L.hd) - lse[h * n + t]);
              const float ds = p * (dot_f32(dot_, vj, L.hd) - D[static_cast<size_t>(h * n + t)]);
              for (int d = 0; d < L.hd; ++d) {
                dkj[d] += s.scale * ds * qt[d];
                dvj[d] += p * dot_[d];
              }
            }
        }
      });
}

}  // namespace edgefit::train
