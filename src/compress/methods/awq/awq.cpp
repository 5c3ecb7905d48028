#include "compress/methods/awq/awq.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/quant_traits.h"

namespace edgefit {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CMap = Eigen::Map<const RowMat>;

// Dequantized Q(w) for one layer, rows in parallel on the pool.
std::vector<float> fake_quantize(const float* w, int64_t rows, int64_t cols, DType type,
                                 const float* importance, ThreadPool* pool) {
  std::vector<uint8_t> q(quant_row_size(type, cols) * static_cast<size_t>(rows));
  quantize_tensor(type, w, rows, cols, q.data(), importance, pool);
  std::vector<float> out(static_cast<size_t>(rows * cols));
  dequantize_tensor(type, q.data(), rows, cols, out.data(), pool);
  return out;
}

}  // namespace

std::vector<float> awq_scales(const float* mean_abs, int64_t cols, double alpha) {
  std::vector<float> s(static_cast<size_t>(cols));
  float mx = 0, mn = std::numeric_limits<float>::max();
  for (int64_t j = 0; j < cols; ++j) {
    const float v =
        std::max(1e-4f, static_cast<float>(std::pow(std::max(mean_abs[j], 1e-8f), alpha)));
    s[static_cast<size_t>(j)] = v;
    mx = std::max(mx, v);
    mn = std::min(mn, v);
  }
  const float norm = std::sqrt(mx * mn);
  for (auto& v : s) v = std::max(1e-4f, v / norm);
  return s;
}

void scale_columns(float* w, int64_t rows, int64_t cols, const float* s) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) w[r * cols + j] *= s[j];
}

void fold_into_gain(float* gain, int64_t cols, const float* s) {
  for (int64_t j = 0; j < cols; ++j) gain[j] /= s[j];
}

void fold_into_rows(float* w, int64_t cols, int64_t k, const float* s) {
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t i = 0; i < k; ++i) w[j * k + i] /= s[j];
}

double output_error(const float* x, const float* w, const float* x2, const float* w2, int64_t n,
                    int64_t rows, int64_t cols) {
  const RowMat ref = CMap(x, n, cols) * CMap(w, rows, cols).transpose();
  const RowMat got = CMap(x2, n, cols) * CMap(w2, rows, cols).transpose();
  return static_cast<double>((ref - got).squaredNorm());
}

AwqSearch awq_search(std::span<const AwqLinear> layers, int64_t cols, const float* x, int64_t n,
                     const float* mean_abs, const float* mean_sq, const AwqOptions& o) {
  if (o.grid < 1) throw Error("AWQ: the α grid needs at least 2 points");
  ThreadPool& pool = o.pool ? *o.pool : ThreadPool::global();
  // Reference outputs X·Wᵀ per layer, computed once.
  const CMap X(x, n, cols);
  std::vector<RowMat> ref;
  for (const auto& l : layers) ref.push_back(X * CMap(l.w, l.rows, cols).transpose());

  AwqSearch best;
  best.loss = std::numeric_limits<double>::infinity();
  std::vector<float> xs(static_cast<size_t>(n * cols)), imp(static_cast<size_t>(cols));
  for (int g = 0; g <= o.grid; ++g) {
    const double alpha = static_cast<double>(g) / o.grid;
    const std::vector<float> s = awq_scales(mean_abs, cols, alpha);
    for (int64_t j = 0; j < cols; ++j)
      imp[static_cast<size_t>(j)] =
          mean_sq[j] / (s[static_cast<size_t>(j)] * s[static_cast<size_t>(j)]);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < cols; ++j)
        xs[static_cast<size_t>(t * cols + j)] = x[t * cols + j] / s[static_cast<size_t>(j)];
    double loss = 0;
    for (size_t li = 0; li < layers.size(); ++li) {
      const AwqLinear& l = layers[li];
      std::vector<float> ws(l.w, l.w + l.rows * cols);
      scale_columns(ws.data(), l.rows, cols, s.data());
      const std::vector<float> q =
          fake_quantize(ws.data(), l.rows, cols, l.type, imp.data(), &pool);
      // Output error in row panels over the pool (Eigen runs single-threaded inside each).
      const CMap XS(xs.data(), n, cols);
      const CMap Q(q.data(), l.rows, cols);
      constexpr int64_t kPanel = 64;
      const int64_t n_panels = (l.rows + kPanel - 1) / kPanel;
      std::vector<double> part(static_cast<size_t>(n_panels), 0.0);
      pool.parallel_for(n_panels, 1, [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) {
          const int64_t r0 = p * kPanel, nr = std::min(kPanel, l.rows - r0);
          const RowMat y = XS * Q.middleRows(r0, nr).transpose();
          part[static_cast<size_t>(p)] =
              static_cast<double>((ref[li].middleCols(r0, nr) - y).squaredNorm());
        }
      });
      for (double v : part) loss += v;
    }
    if (g == 0) best.loss_plain = loss;
    if (loss < best.loss) {
      best.loss = loss;
      best.alpha = alpha;
      best.scales = s;
    }
  }
  return best;
}

}  // namespace edgefit
