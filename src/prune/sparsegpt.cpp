// SparseGPT over row chunks (see sparsegpt.h). The column loop mirrors gptq.cpp's run_chunk
// operation for operation, so that with nothing pruned the bytes are GPTQ's.
#include "prune/sparsegpt.h"

#include <Eigen/Core>
#include <algorithm>
#include <numeric>
#include <string>

#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/q_sparse.h"
#include "quant/quant_traits.h"
#include "solve/gptq_grid.h"

namespace edgefit {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// What every chunk shares: the problem and the derived widths.
struct Plan {
  const float* w;           // W [rows, cols]
  int64_t rows, cols;       // shape
  const GptqHessian* h;     // prepared Hessian (identity order)
  const FormatGrid* grid;   // target format, or null for F32
  const QuantTraits* qt;    // its quantizer, or null
  SparsityPattern pattern;  // what to prune
  MaskScope scope;          // unstructured comparison group
  int64_t mask_block;       // unstructured: columns per mask choice
  int64_t nm_span;          // N:M: columns whose groups are chosen together
  int64_t lazy;             // lazy-batch width (a multiple of the above and of the block size)
  size_t row_bytes;         // output bytes per row (quantized)
  uint8_t* pruned;          // the mask [rows, cols]
  float* out_w;             // F32 output [rows, cols], or null
  uint8_t* out_bytes;       // quantized output, or null
};

// One chunk of rows [r0, r1): its working weights and grids, in the result's column order.
struct Chunk {
  int64_t r0, r1;              // rows
  RowMat W;                    // [R, cols] current weights
  RowMat err;                  // [R, lazy] scaled errors of the current batch
  std::vector<float> step;     // [R, cols] grid step per weight (quantized)
  std::vector<float> off;      // [R, cols] grid offset per weight (quantized)
  std::vector<uint8_t> codes;  // [R, cols] chosen codes (quantized)
  std::vector<float> scores;   // scratch: one row's saliencies of the columns being masked
  double loss = 0;             // Σ e² / 2 over the chunk
  int64_t inexact = 0;         // pruned weights that dequantize to a nonzero
};

int64_t lcm64(int64_t a, int64_t b) {
  return a / std::gcd(a, b) * b;
}

// Marks the lowest of v² / d² over columns [c0, c1) of chunk row r, `count` of them; v[k] is the
// current weight of column c0 + k.
void mark_row_segment(const Plan& p, Chunk& c, int64_t r, const float* v, int64_t c0, int64_t c1,
                      int64_t count) {
  const float* u = p.h->u.data();
  std::vector<float>& s = c.scores;
  s.resize(static_cast<size_t>(c1 - c0));
  for (int64_t j = c0; j < c1; ++j) {
    const float d = u[j * p.cols + j], w = v[j - c0];
    s[static_cast<size_t>(j - c0)] = w * w / (d * d);
  }
  mark_lowest(s.data(), c1 - c0, 1, count, p.pruned + (c.r0 + r) * p.cols + c0);
}

// The per-layer choice for columns [c0, c1): all rows' saliencies compared at once.
void mark_layer_segment(const Plan& p, std::vector<Chunk>& chunks, int64_t c0, int64_t c1) {
  const int64_t width = c1 - c0;
  const int64_t count = prune_count(p.pattern.fraction(), p.rows * c1) -
                        prune_count(p.pattern.fraction(), p.rows * c0);
  const float* u = p.h->u.data();
  std::vector<float> s(static_cast<size_t>(p.rows * width));
  for (const Chunk& c : chunks)
    for (int64_t r = 0; r < c.r1 - c.r0; ++r)
      for (int64_t j = c0; j < c1; ++j) {
        const float d = u[j * p.cols + j], v = c.W(r, j);
        s[static_cast<size_t>((c.r0 + r) * width + j - c0)] = v * v / (d * d);
      }
  std::vector<uint8_t> m(s.size(), 0);
  mark_lowest(s.data(), static_cast<int64_t>(s.size()), 1, count, m.data());
  for (int64_t r = 0; r < p.rows; ++r)
    std::copy_n(m.data() + r * width, width, p.pruned + r * p.cols + c0);
}

// The per-row mask segment that starts at column i, if one does: [i, *end) with *count pruned
// (an N:M group, or an unstructured mask block with its cumulative-floor share). False when i
// starts none, or when the masks are per layer (chosen by mark_layer_segment).
bool row_segment_at(const Plan& p, int64_t i, int64_t* end, int64_t* count) {
  if (p.pattern.is_n_of_m()) {
    if (i % p.pattern.m() != 0) return false;
    *end = i + p.pattern.m();
    *count = p.pattern.m() - p.pattern.n();
    return true;
  }
  if (p.scope == MaskScope::kPerLayer || p.pattern.dense() || i % p.mask_block != 0) return false;
  *end = std::min(i + p.mask_block, p.cols);
  *count = prune_count(p.pattern.fraction(), *end) - prune_count(p.pattern.fraction(), i);
  return true;
}

// Pruning only: chooses the row masks due at column i from the current weights.
void choose_row_masks(const Plan& p, Chunk& c, int64_t i) {
  int64_t end, count;
  if (!row_segment_at(p, i, &end, &count)) return;
  for (int64_t r = 0; r < c.r1 - c.r0; ++r)
    mark_row_segment(p, c, r, c.W.data() + r * p.cols + i, i, end, count);
}

// The columns the lookahead of quantization block [i, i + bs) runs over: the block, extended to
// the end of every row mask segment that starts inside it (so that segment's mask can be chosen
// whole). A lazy batch holds whole blocks and whole segments, so this stays inside the batch.
int64_t lookahead_end(const Plan& p, int64_t i, int bs) {
  int64_t e = i + bs, end, count;
  for (int64_t j = i; j < i + bs; ++j)
    if (row_segment_at(p, j, &end, &count)) e = std::max(e, end);
  return e;
}

// Lookahead of chunk row r over columns [i, e): the prune-only OBS loop on a copy x of the
// row's current weights, choosing the row masks that fall due on the way (from x, the weights as
// the column loop will have updated them, as choose_row_masks would). On return x holds the
// weights each column of the block will have when the column loop rounds it, save for the
// (small) rounding errors of the columns before it: what the block's scales must fit. Without
// it the scales are fitted to the weights before this block's pruning errors move them, and with
// 50 % pruned they move a lot (see sparsegpt.h).
void lookahead_row(const Plan& p, Chunk& c, int64_t r, int64_t i, int64_t e, float* x) {
  const float* U = p.h->u.data();
  const int64_t C = p.cols;
  const uint8_t* m = p.pruned + (c.r0 + r) * C;
  for (int64_t j = i; j < e; ++j) x[j - i] = c.W(r, j);
  for (int64_t j = i, end, count; j < e; ++j) {
    if (j < i + p.grid->block_size && row_segment_at(p, j, &end, &count))
      mark_row_segment(p, c, r, x + (j - i), j, end, count);
    if (!m[j]) continue;
    const float err = x[j - i] / U[j * C + j];
    for (int64_t t = j + 1; t < e; ++t) x[t - i] -= err * U[j * C + t];
    x[j - i] = 0.f;
  }
}

// Chooses quantization block i / bs of every chunk row and decodes its grid. The row masks that
// start in the block are chosen here, by the lookahead; the scales are fitted to the lookahead's
// weights, the pruned ones as zeros with their column's importance (see sparsegpt.h).
void choose_block(const Plan& p, Chunk& c, int64_t i) {
  const int bs = p.grid->block_size;
  const int64_t e = lookahead_end(p, i, bs);
  const float* diag = p.h->diag.data() + i;
  std::vector<float> x(static_cast<size_t>(e - i));
  for (int64_t r = 0; r < c.r1 - c.r0; ++r) {
    lookahead_row(p, c, r, i, e, x.data());
    uint8_t* blk = p.out_bytes + (c.r0 + r) * static_cast<int64_t>(p.row_bytes) +
                   (i / bs) * static_cast<int64_t>(p.grid->type_size);
    p.qt->quantize_row(x.data(), blk, bs, diag);
    p.grid->decode(blk, c.step.data() + r * p.cols + i, c.off.data() + r * p.cols + i);
  }
}

// The code a pruned weight takes: the one whose value is exactly 0 where the grid has it,
// otherwise the one nearest 0.
int zero_code(const FormatGrid& g, float step, float off, float* value) {
  if (!g.has_offset) {
    if (!g.table) {
      *value = grid_value(g, step, off, g.zero);
      return g.zero;
    }
    for (int q = g.q_min; q <= g.q_max; ++q)
      if (g.table[q] == 0) {
        *value = grid_value(g, step, off, q);
        return q;
      }
  }
  return grid_round(g, step, off, 0.f, value);
}

// Columns [c0, c1) of lazy batch [i1, i2) for the chunk's rows; after the batch's last column,
// the lazy update of every later column.
void run_columns(const Plan& p, Chunk& c, int64_t i1, int64_t i2, int64_t c0, int64_t c1) {
  const int64_t R = c.r1 - c.r0, C = p.cols;
  const float* U = p.h->u.data();
  for (int64_t i = c0; i < c1; ++i) {
    if (!p.grid)
      choose_row_masks(p, c, i);
    else if (i % p.grid->block_size == 0)
      choose_block(p, c, i);
    const float* u_row = U + i * C;
    const float d = u_row[i];
    for (int64_t r = 0; r < R; ++r) {
      float* wr = c.W.data() + r * C;
      const size_t at = static_cast<size_t>(r * C + i);
      const bool cut = p.pruned[(c.r0 + r) * C + i] != 0;
      float q = 0.f;
      if (p.grid) {
        const int code = cut ? zero_code(*p.grid, c.step[at], c.off[at], &q)
                             : grid_round(*p.grid, c.step[at], c.off[at], wr[i], &q);
        c.codes[at] = static_cast<uint8_t>(code);
        c.inexact += cut && q != 0.f;
      } else {
        q = cut ? 0.f : wr[i];
        p.out_w[(c.r0 + r) * C + i] = q;
      }
      const float e = (wr[i] - q) / d;
      c.loss += 0.5 * static_cast<double>(e) * e;
      c.err(r, i - i1) = e;
      for (int64_t j = i + 1; j < i2; ++j) wr[j] -= e * u_row[j];
    }
  }
  if (c1 == i2 && i2 < C) {
    const int64_t nb = i2 - i1;
    Eigen::Map<const RowMat, 0, Eigen::OuterStride<>> Ub(U + i1 * C + i2, nb, C - i2,
                                                         Eigen::OuterStride<>(C));
    c.W.block(0, i2, R, C - i2).noalias() -= c.err.leftCols(nb) * Ub;
  }
}

// Loads the chunk's rows; dead columns (zero Hessian diagonal) are zeroed as GPTQ does.
Chunk load_chunk(const Plan& p, int64_t r0, int64_t r1) {
  Chunk c;
  c.r0 = r0;
  c.r1 = r1;
  const int64_t R = r1 - r0, C = p.cols;
  c.W.resize(R, C);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t j = 0; j < C; ++j)
      c.W(r, j) = p.h->diag[static_cast<size_t>(j)] == 0.f ? 0.f : p.w[(r0 + r) * C + j];
  c.err.resize(R, p.lazy);
  if (p.grid) {
    c.step.resize(static_cast<size_t>(R * C));
    c.off.resize(static_cast<size_t>(R * C));
    c.codes.resize(static_cast<size_t>(R * C));
  }
  return c;
}

// Checks the request and derives the widths.
Plan make_plan(const float* w, int64_t rows, int64_t cols, const GptqHessian& h,
               const SparseGptOptions& o) {
  Plan p{};
  p.w = w;
  p.rows = rows;
  p.cols = cols;
  p.h = &h;
  p.pattern = o.pattern;
  p.scope = o.scope.scope;
  if (rows <= 0 || cols <= 0) throw Error("SparseGPT: empty weight");
  if (h.n != cols) throw Error("SparseGPT: Hessian width does not match the weight");
  for (int64_t j = 0; j < cols; ++j)
    if (h.perm[static_cast<size_t>(j)] != j)
      throw Error("SparseGPT: the Hessian was prepared with act-order; prepare it without");
  if (o.mask_block < 1 || o.scope.row_block < 1)
    throw Error("SparseGPT: mask_block and the scope's row_block must be at least 1");
  if (o.scope.scope == MaskScope::kPerRowHalfBlock)  // chosen column block by column block
    throw Error("SparseGPT cannot choose masks per interleaved half block: use row blocks");
  o.pattern.check_row(cols);
  int64_t bs = 1;
  if (o.type != DType::F32) {
    p.grid = sparsegpt_grid(o.type);
    p.qt = quant_traits(o.type);
    if (!p.grid || !p.qt)
      throw Error("SparseGPT cannot produce " + std::string(dtype_name(o.type)) + " weights");
    bs = p.grid->block_size;
    if (cols % bs != 0)
      throw Error("SparseGPT: rows of " + std::to_string(cols) + " are not whole " +
                  std::string(dtype_name(o.type)) + " blocks");
    p.row_bytes = quant_row_size(o.type, cols);
  }
  // Per-row blocks: mask blocks that tile each row block, whose cumulative-floor shares then add
  // up to the block's share.
  p.mask_block = p.scope == MaskScope::kPerRowBlock
                     ? std::gcd<int64_t>(o.mask_block, o.scope.row_block)
                     : o.mask_block;
  // A lazy batch holds whole mask blocks (or N:M groups) and whole quantization blocks.
  const int64_t unit = lcm64(o.pattern.is_n_of_m() ? o.pattern.m() : p.mask_block, bs);
  p.lazy = std::max(unit, (o.gptq.block_size / unit) * unit);
  return p;
}

}  // namespace

const FormatGrid* sparsegpt_grid(DType type) {
  const FormatGrid* g = format_grid(type);
  return g ? g : sparse_format_grid(type);
}

bool sparsegpt_exact_zero(DType type) {
  const FormatGrid* g = sparsegpt_grid(type);
  if (type == DType::F32) return true;
  if (!g || g->has_offset) return false;
  if (!g->table) return true;
  for (int q = g->q_min; q <= g->q_max; ++q)
    if (g->table[q] == 0) return true;
  return false;
}

SparseGptResult sparsegpt_prune(const float* w, int64_t rows, int64_t cols, const GptqHessian& h,
                                const SparseGptOptions& o) {
  Plan p = make_plan(w, rows, cols, h, o);
  SparseGptResult res;
  res.damp = h.damp;
  res.pruned.assign(static_cast<size_t>(rows * cols), 0);
  p.pruned = res.pruned.data();
  if (p.grid) {
    res.bytes.assign(p.row_bytes * static_cast<size_t>(rows), 0);
    p.out_bytes = res.bytes.data();
  } else {
    res.weights.assign(static_cast<size_t>(rows * cols), 0.f);
    p.out_w = res.weights.data();
  }
  // Row chunks as gptq_quantize forms them (same shapes, so the same lazy-batch products).
  ThreadPool& pool = o.gptq.pool ? *o.gptq.pool : ThreadPool::global();
  const int64_t per = std::clamp<int64_t>(rows / (2 * pool.size()), 16, 256);
  const int64_t n_chunks = (rows + per - 1) / per;
  std::vector<Chunk> chunks(static_cast<size_t>(n_chunks));
  pool.parallel_for(n_chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k)
      chunks[static_cast<size_t>(k)] = load_chunk(p, k * per, std::min(rows, (k + 1) * per));
  });
  const bool layer_masks =
      !o.pattern.is_n_of_m() && !o.pattern.dense() && p.scope == MaskScope::kPerLayer;
  for (int64_t i1 = 0; i1 < cols; i1 += p.lazy) {
    const int64_t i2 = std::min(i1 + p.lazy, cols);
    for (int64_t c0 = i1, c1; c0 < i2; c0 = c1) {
      // A per-layer mask block compares every row: all chunks stop at its first column.
      c1 = layer_masks ? std::min(c0 + p.mask_block, i2) : i2;
      if (layer_masks) mark_layer_segment(p, chunks, c0, c1);
      pool.parallel_for(n_chunks, 1, [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k)
          run_columns(p, chunks[static_cast<size_t>(k)], i1, i2, c0, c1);
      });
    }
  }
  for (Chunk& c : chunks) {
    res.proxy_loss += c.loss;
    res.inexact_zeros += c.inexact;
    if (!p.grid) continue;
    const int bs = p.grid->block_size;
    for (int64_t r = 0; r < c.r1 - c.r0; ++r)
      for (int64_t b = 0; b < cols / bs; ++b)
        p.grid->pack(p.out_bytes + (c.r0 + r) * static_cast<int64_t>(p.row_bytes) +
                         b * static_cast<int64_t>(p.grid->type_size),
                     c.codes.data() + r * cols + b * bs);
  }
  for (uint8_t m : res.pruned) res.pruned_count += m;
  return res;
}

SparseGptResult sparsegpt_prune(const float* w, int64_t rows, int64_t cols, const float* hessian,
                                const SparseGptOptions& o) {
  if (o.gptq.act_order) throw Error("SparseGPT: act_order is not supported");
  if (rows <= 0 || cols <= 0) throw Error("SparseGPT: empty weight");
  return sparsegpt_prune(w, rows, cols, gptq_prepare(hessian, cols, o.gptq), o);
}

}  // namespace edgefit
