// GPTQ over any block format (see gptq.h). Linear algebra through Eigen (row-major maps over our
// buffers); parallelism through the thread pool, over row chunks and Hessian panels.
#include "solve/gptq.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/quant_traits.h"
#include "solve/gptq_grid.h"

namespace edgefit {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapMat = Eigen::Map<RowMat>;
using CMapMat = Eigen::Map<const RowMat>;

ThreadPool& pool_of(const GptqOptions& o) {
  return o.pool ? *o.pool : ThreadPool::global();
}

// The per-chunk work of gptq_quantize: rows [r0, r1) of W, all columns.
struct RowChunk {
  const float* w;          // W, row-major [rows, cols]
  int64_t r0, r1, cols;    // the chunk's rows and the width
  const GptqHessian* h;    // prepared Hessian
  const FormatGrid* grid;  // target format
  const QuantTraits* qt;   // its quantizer
  int lazy;                // lazy-batch width (a multiple of grid->block_size)
  bool act_order;          // static grids + permuted order
  uint8_t* out;            // output bytes of row r0 (row_bytes apart)
  size_t row_bytes;        // bytes per output row
  double loss = 0;         // Σ (w−q)²/d²/2 over the chunk
};

// Chooses the scales of block `b` (original column order) of every row of the chunk from the
// weights wb[r][0 … bs) and decodes the grid into step/off (stride `stride` per row).
void choose_block(RowChunk& c, int64_t b, const float* wb, int64_t wb_stride, float* step,
                  float* off, int64_t stride, const float* importance) {
  const int bs = c.grid->block_size;
  for (int64_t r = 0; r < c.r1 - c.r0; ++r) {
    uint8_t* blk =
        c.out + r * static_cast<int64_t>(c.row_bytes) + b * static_cast<int64_t>(c.grid->type_size);
    c.qt->quantize_row(wb + r * wb_stride, blk, bs, importance);
    c.grid->decode(blk, step + r * stride, off + r * stride);
  }
}

void run_chunk(RowChunk& c) {
  const int64_t R = c.r1 - c.r0, C = c.cols;
  const FormatGrid& g = *c.grid;
  const int bs = g.block_size;
  const std::vector<int32_t>& perm = c.h->perm;
  // W in processing order; dead columns (zero Hessian diagonal) are zeroed as GPTQ does.
  RowMat W(R, C);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t j = 0; j < C; ++j) {
      const int64_t src = perm[static_cast<size_t>(j)];
      W(r, j) = c.h->diag[static_cast<size_t>(src)] == 0.f ? 0.f : c.w[(c.r0 + r) * C + src];
    }
  // Grid per weight, indexed in ORIGINAL column order (blocks are contiguous there).
  std::vector<float> step(static_cast<size_t>(R * C)), off(static_cast<size_t>(R * C));
  std::vector<uint8_t> codes(static_cast<size_t>(R * C));
  if (c.act_order) {
    // Static grids: every block's scales from the original weights, before any update.
    std::vector<float> orig(static_cast<size_t>(R * C));
    for (int64_t r = 0; r < R; ++r)
      for (int64_t j = 0; j < C; ++j)
        orig[static_cast<size_t>(r * C + j)] = c.w[(c.r0 + r) * C + j];
    for (int64_t b = 0; b < C / bs; ++b)
      choose_block(c, b, orig.data() + b * bs, C, step.data() + b * bs, off.data() + b * bs, C,
                   c.h->diag.data() + b * bs);
  }
  const float* U = c.h->u.data();
  RowMat err(R, c.lazy);
  for (int64_t i1 = 0; i1 < C; i1 += c.lazy) {
    const int64_t i2 = std::min<int64_t>(i1 + c.lazy, C), nb = i2 - i1;
    for (int64_t i = i1; i < i2; ++i) {
      if (!c.act_order && i % bs == 0)
        // Without act-order the processing order is the original one, so the block [i, i+bs)
        // lies inside this lazy batch and already carries every earlier column's correction.
        choose_block(c, i / bs, W.data() + i, C, step.data() + i, off.data() + i, C,
                     c.h->diag.data() + i);
      const int64_t col = perm[static_cast<size_t>(i)];
      const float* u_row = U + i * C;
      const float d = u_row[i];
      for (int64_t r = 0; r < R; ++r) {
        float* wr = W.data() + r * C;
        const size_t at = static_cast<size_t>(r * C + col);
        float q;
        codes[at] = static_cast<uint8_t>(grid_round(g, step[at], off[at], wr[i], &q));
        const float e = (wr[i] - q) / d;
        c.loss += 0.5 * static_cast<double>(e) * e;
        err(r, i - i1) = e;
        for (int64_t j = i + 1; j < i2; ++j) wr[j] -= e * u_row[j];
      }
    }
    if (i2 < C) {
      // Lazy batch update: the columns after the batch get all of its errors in one product.
      Eigen::Map<const RowMat, 0, Eigen::OuterStride<>> Ub(U + i1 * C + i2, nb, C - i2,
                                                           Eigen::OuterStride<>(C));
      W.block(0, i2, R, C - i2).noalias() -= err.leftCols(nb) * Ub;
    }
  }
  for (int64_t r = 0; r < R; ++r)
    for (int64_t b = 0; b < C / bs; ++b)
      g.pack(c.out + r * static_cast<int64_t>(c.row_bytes) + b * static_cast<int64_t>(g.type_size),
             codes.data() + r * C + b * bs);
}

}  // namespace

HessianAccumulator::HessianAccumulator(int64_t width)
    : width_(width), h_(static_cast<size_t>(width * width), 0.f) {}

void HessianAccumulator::add(const float* x, int64_t n) {
  if (final_) throw Error("HessianAccumulator: add() after finalize()");
  if (n <= 0) return;
  const int64_t W = width_;
  CMapMat X(x, n, W);
  MapMat H(h_.data(), W, W);
  // Lower triangle only, in column panels spread over the pool: H[j0:, j0:j1] += X[:, j0:]ᵀ X[:,
  // j0:j1].
  constexpr int64_t kPanel = 128;
  const int64_t n_panels = (W + kPanel - 1) / kPanel;
  ThreadPool::global().parallel_for(n_panels, 1, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t j0 = p * kPanel, pw = std::min(kPanel, W - j0);
      H.block(j0, j0, W - j0, pw).noalias() +=
          X.middleCols(j0, W - j0).transpose() * X.middleCols(j0, pw);
    }
  });
  count_ += n;
}

void HessianAccumulator::add_gram(const float* gram, int64_t n) {
  if (final_) throw Error("HessianAccumulator: add_gram() after finalize()");
  const int64_t W = width_;
  ThreadPool::global().parallel_for(W, 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      for (int64_t j = 0; j <= i; ++j) h_[static_cast<size_t>(i * W + j)] += gram[i * W + j];
  });
  count_ += n;
}

void HessianAccumulator::add_gram_rows(const float* block, int64_t r0, int64_t r1) {
  if (final_) throw Error("HessianAccumulator: add_gram_rows() after finalize()");
  if (r0 < 0 || r1 > width_ || r0 > r1) throw Error("HessianAccumulator: rows out of range");
  const int64_t W = width_;
  ThreadPool::global().parallel_for(r1 - r0, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = r0 + b; i < r0 + e; ++i)
      for (int64_t j = 0; j <= i; ++j)
        h_[static_cast<size_t>(i * W + j)] += block[(i - r0) * r1 + j];
  });
}

const std::vector<float>& HessianAccumulator::finalize() {
  if (final_) return h_;
  final_ = true;
  const float s = count_ > 0 ? 2.0f / static_cast<float>(count_) : 0.f;
  const int64_t W = width_;
  for (int64_t i = 0; i < W; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      const float v = h_[static_cast<size_t>(i * W + j)] * s;
      h_[static_cast<size_t>(i * W + j)] = v;
      h_[static_cast<size_t>(j * W + i)] = v;
    }
  return h_;
}

bool gptq_supports(DType type) {
  return format_grid(type) && quant_traits(type);
}

bool inverse_cholesky_upper(const float* h, int64_t n, double damp, std::vector<float>& u) {
  // With J the reversal permutation, J·H·J = L·Lᵀ gives H⁻¹ = (J·L⁻¹·J)ᵀ·(J·L⁻¹·J), and J·L⁻¹·J is
  // upper triangular with a positive diagonal: the factor we want, for one Cholesky and one
  // triangular inverse.
  RowMat A = CMapMat(h, n, n).reverse();
  A.diagonal().array() += static_cast<float>(damp);
  Eigen::LLT<RowMat> llt(A);
  if (llt.info() != Eigen::Success) return false;
  RowMat Linv = RowMat::Identity(n, n);
  llt.matrixL().solveInPlace(Linv);
  u.resize(static_cast<size_t>(n * n));
  MapMat U(u.data(), n, n);
  U = Linv.reverse();
  for (int64_t i = 0; i < n; ++i) {
    if (!(U(i, i) > 0) || !std::isfinite(U(i, i))) return false;
    for (int64_t j = 0; j < i; ++j) U(i, j) = 0.f;
  }
  return true;
}

GptqHessian gptq_prepare(const float* hessian, int64_t n, const GptqOptions& o) {
  GptqHessian h;
  h.n = n;
  h.diag.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) h.diag[static_cast<size_t>(i)] = hessian[i * n + i];
  h.perm.resize(static_cast<size_t>(n));
  std::iota(h.perm.begin(), h.perm.end(), 0);
  if (o.act_order)
    std::stable_sort(h.perm.begin(), h.perm.end(), [&](int32_t a, int32_t b) {
      return h.diag[static_cast<size_t>(a)] > h.diag[static_cast<size_t>(b)];
    });
  // H in processing order; a dead column gets a unit diagonal (its weights are zeroed).
  std::vector<float> hp(static_cast<size_t>(n * n));
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t pi = h.perm[static_cast<size_t>(i)];
    for (int64_t j = 0; j < n; ++j)
      hp[static_cast<size_t>(i * n + j)] = hessian[pi * n + h.perm[static_cast<size_t>(j)]];
    if (h.diag[static_cast<size_t>(pi)] == 0.f) hp[static_cast<size_t>(i * n + i)] = 1.f;
    mean_diag += hp[static_cast<size_t>(i * n + i)];
  }
  mean_diag /= static_cast<double>(std::max<int64_t>(n, 1));
  double damp = o.percdamp * mean_diag;
  if (!(damp > 0)) damp = 1e-8;
  for (int attempt = 0; attempt < 4; ++attempt, damp *= 10)
    if (inverse_cholesky_upper(hp.data(), n, damp, h.u)) {
      h.damp = damp;
      return h;
    }
  throw Error("GPTQ: the Hessian is not positive definite even with dampening " +
              std::to_string(damp / 10));
}

namespace {

// Throws unless GPTQ can write rows of `cols` weights as `type`.
const FormatGrid& checked_grid(DType type, int64_t cols) {
  const FormatGrid* grid = format_grid(type);
  if (!grid || !quant_traits(type))
    throw Error("GPTQ cannot produce " + std::string(dtype_name(type)) + " weights");
  if (cols % grid->block_size != 0)
    throw Error("GPTQ: rows of " + std::to_string(cols) + " are not whole " +
                std::string(dtype_name(type)) + " blocks");
  return *grid;
}

}  // namespace

GptqResult gptq_quantize(const float* w, int64_t rows, int64_t cols, const GptqHessian& h,
                         DType type, const GptqOptions& o) {
  const FormatGrid* grid = &checked_grid(type, cols);
  const QuantTraits* qt = quant_traits(type);
  if (h.n != cols) throw Error("GPTQ: Hessian width does not match the weight");
  GptqResult res;
  res.damp = h.damp;
  const size_t row_bytes = quant_row_size(type, cols);
  res.bytes.assign(row_bytes * static_cast<size_t>(rows), 0);
  const int lazy = std::max(grid->block_size, (o.block_size / grid->block_size) * grid->block_size);
  ThreadPool& pool = pool_of(o);
  const int64_t per = std::clamp<int64_t>(rows / (2 * pool.size()), 16, 256);
  const int64_t n_chunks = (rows + per - 1) / per;
  std::vector<RowChunk> chunks;
  for (int64_t k = 0; k < n_chunks; ++k) {
    const int64_t r0 = k * per, r1 = std::min(rows, r0 + per);
    chunks.push_back({w, r0, r1, cols, &h, grid, qt, lazy, o.act_order,
                      res.bytes.data() + static_cast<size_t>(r0) * row_bytes, row_bytes});
  }
  pool.parallel_for(n_chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) run_chunk(chunks[static_cast<size_t>(k)]);
  });
  for (const auto& c : chunks) res.proxy_loss += c.loss;
  return res;
}

GptqResult gptq_quantize(const float* w, int64_t rows, int64_t cols, const float* hessian,
                         DType type, const GptqOptions& o) {
  checked_grid(type, cols);  // before touching a Hessian that may not fit
  return gptq_quantize(w, rows, cols, gptq_prepare(hessian, cols, o), type, o);
}

double hessian_error(const float* w, const uint8_t* bytes, DType type, int64_t rows, int64_t cols,
                     const float* hessian) {
  std::vector<float> q(static_cast<size_t>(rows * cols));
  dequantize_tensor(type, bytes, rows, cols, q.data());
  RowMat D = CMapMat(w, rows, cols) - CMapMat(q.data(), rows, cols);
  const RowMat DH = D * CMapMat(hessian, cols, cols);
  return static_cast<double>(DH.cwiseProduct(D).sum());
}

}  // namespace edgefit
