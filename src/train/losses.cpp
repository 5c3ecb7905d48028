#include "train/losses.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "train/vector_math.h"

namespace edgefit::train {
namespace {

// log Σ_v exp(x[v] / T), in double.
double log_sum_exp(const float* x, int64_t vocab, double inv_t) {
  double mx = -INFINITY;
  for (int64_t v = 0; v < vocab; ++v) mx = std::max(mx, x[v] * inv_t);
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v) sum += std::exp(x[v] * inv_t - mx);
  return mx + std::log(sum);
}

}  // namespace

double cross_entropy_rows(const float* logits, const int32_t* ids, int64_t n, int64_t t0,
                          int64_t t1, int64_t vocab, float* dlogits) {
  const int64_t count = n - 1;  // positions that predict a next token
  std::vector<double> per_pos(static_cast<size_t>(t1 - t0));
  const VectorMathTable& vec = vector_math();
  ThreadPool::global().parallel_for(t1 - t0, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* g = dlogits + r * vocab;
      if (t0 + r >= count) {  // the last position predicts nothing
        std::memset(g, 0, static_cast<size_t>(vocab) * sizeof(float));
        continue;
      }
      const float* row = logits + r * vocab;
      // Softmax through the vector math: g = exp(row − max) once, the sum in double, then g
      // scaled by 1 / (sum · count).
      const int32_t target = ids[t0 + r + 1];
      const float target_logit = row[target];
      const float mx = vec.max(row, vocab);
      const double sum = vec.exp_shifted_sum(row, vocab, mx, g);
      per_pos[static_cast<size_t>(r)] = mx + std::log(sum) - target_logit;
      const float scale = static_cast<float>(1.0 / (sum * static_cast<double>(count)));
      for (int64_t v = 0; v < vocab; ++v) g[v] *= scale;
      g[target] -= static_cast<float>(1.0 / static_cast<double>(count));
    }
  });
  double sum = 0;
  for (double l : per_pos) sum += l;
  return sum;
}

double cross_entropy_loss(const float* logits, const int32_t* ids, int64_t n, int64_t vocab,
                          float* dlogits) {
  return cross_entropy_rows(logits, ids, n, 0, n, vocab, dlogits) / static_cast<double>(n - 1);
}

double distillation_rows(const float* student, const float* teacher, int64_t n, int64_t t0,
                         int64_t t1, int64_t vocab, double temperature, float* dlogits) {
  const double inv_t = 1.0 / temperature;
  std::vector<double> per_pos(static_cast<size_t>(t1 - t0));
  ThreadPool::global().parallel_for(t1 - t0, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* s = student + r * vocab;
      const float* te = teacher + r * vocab;
      const double lse_s = log_sum_exp(s, vocab, inv_t), lse_t = log_sum_exp(te, vocab, inv_t);
      double kl = 0;
      float* g = dlogits + r * vocab;
      for (int64_t v = 0; v < vocab; ++v) {
        const double log_p = te[v] * inv_t - lse_t, log_q = s[v] * inv_t - lse_s;
        const double p = std::exp(log_p);
        kl += p * (log_p - log_q);
        g[v] = static_cast<float>((std::exp(log_q) - p) * inv_t / static_cast<double>(n));
      }
      per_pos[static_cast<size_t>(r)] = kl;
    }
  });
  double sum = 0;
  for (double l : per_pos) sum += l;
  return sum;
}

double distillation_loss(const float* student, const float* teacher, int64_t n, int64_t vocab,
                         double temperature, float* dlogits) {
  return distillation_rows(student, teacher, n, 0, n, vocab, temperature, dlogits) /
         static_cast<double>(n);
}

}  // namespace edgefit::train
