// Mask selection: the lowest scores of each comparison group, exact counts, index-ordered ties.
#include "prune/mask_select.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/error.h"

namespace edgefit {

void mark_lowest(const float* scores, int64_t n, int64_t stride, int64_t count, uint8_t* pruned) {
  if (count < 0 || count > n)
    throw Error("cannot prune " + std::to_string(count) + " of " + std::to_string(n) + " weights");
  if (count == 0) return;
  if (count == n) {
    for (int64_t i = 0; i < n; ++i) pruned[i * stride] = 1;
    return;
  }
  // A strict total order (score, then index; NaN below everything), so nth_element's choice is
  // the only possible one.
  const auto key = [&](int64_t i) {
    const float s = scores[i * stride];
    return std::isnan(s) ? -INFINITY : s;
  };
  const auto less = [&](int64_t a, int64_t b) {
    const float ka = key(a), kb = key(b);
    return ka < kb || (ka == kb && a < b);
  };
  // N:M groups are small and chosen once per group and row: keep their indices on the stack.
  constexpr int64_t kSmall = 64;
  int64_t small[kSmall];
  std::vector<int64_t> large;
  int64_t* idx = small;
  if (n > kSmall) {
    large.resize(static_cast<size_t>(n));
    idx = large.data();
  }
  std::iota(idx, idx + n, int64_t{0});
  std::nth_element(idx, idx + (count - 1), idx + n, less);
  for (int64_t k = 0; k < count; ++k) pruned[idx[k] * stride] = 1;
}

namespace {

// Throws Error for a kPerRowBlock group without a positive block width, or a kPerRowHalfBlock
// group whose blocks are not 8 runs.
void check_group(const MaskGroup& g) {
  if ((g.scope == MaskScope::kPerRowBlock && g.row_block < 1) ||
      (g.scope == MaskScope::kPerRowHalfBlock && (g.row_block < 8 || g.row_block % 8 != 0)))
    throw Error("mask row blocks of " + std::to_string(g.row_block) + " inputs are impossible");
}

// The inputs of half h of the block at a (B inputs; kPerRowHalfBlock), in input order, into idx
// (its capacity reused from block to block); a short last block (b − a < B) is one group, whole
// for h = 0 and empty for h = 1.
void half_inputs(int64_t a, int64_t b, int64_t B, int h, std::vector<int64_t>& idx) {
  idx.clear();
  if (b - a < B) {
    if (h == 0)
      for (int64_t i = a; i < b; ++i) idx.push_back(i);
    return;
  }
  const int64_t run = B / 8;
  for (int64_t k = h; k < 8; k += 2)
    for (int64_t j = 0; j < run; ++j) idx.push_back(a + k * run + j);
}

// Pruned count of half h of the block [a, b) (kPerRowHalfBlock).
int64_t half_share(double f, int64_t a, int64_t b, int64_t B, int h) {
  if (b - a < B) return h == 0 ? prune_count(f, b) - prune_count(f, a) : 0;
  const int64_t mid = a + B / 2;
  return h == 0 ? prune_count(f, mid) - prune_count(f, a) : prune_count(f, b) - prune_count(f, mid);
}

int64_t count_ones(const uint8_t* m, int64_t n) {
  int64_t c = 0;
  for (int64_t i = 0; i < n; ++i) c += m[i] != 0;
  return c;
}

[[noreturn]] void mask_mismatch(const SparsityPattern& p, const std::string& where, int64_t got,
                                int64_t want) {
  throw Error("mask does not follow sparsity " + p.to_string() + ": " + where + " prunes " +
              std::to_string(got) + " weights, the pattern " + std::to_string(want));
}

}  // namespace

std::vector<uint8_t> select_mask(const float* scores, int64_t rows, int64_t cols,
                                 const SparsityPattern& p, MaskGroup g) {
  if (rows <= 0 || cols <= 0)
    throw Error("cannot prune an empty matrix [" + std::to_string(rows) + ", " +
                std::to_string(cols) + "]");
  p.check_row(cols);
  check_group(g);
  const MaskScope scope = g.scope;
  std::vector<uint8_t> pruned(static_cast<size_t>(rows * cols), 0);
  if (p.is_n_of_m()) {
    const int64_t m = p.m(), drop = p.m() - p.n();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < cols; g += m)
        mark_lowest(scores + r * cols + g, m, 1, drop, pruned.data() + r * cols + g);
  } else if (scope == MaskScope::kPerRow) {
    const int64_t drop = prune_count(p.fraction(), cols);
    for (int64_t r = 0; r < rows; ++r)
      mark_lowest(scores + r * cols, cols, 1, drop, pruned.data() + r * cols);
  } else if (scope == MaskScope::kPerRowBlock) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t a = 0; a < cols; a += g.row_block) {
        const int64_t b = std::min(a + g.row_block, cols);
        mark_lowest(scores + r * cols + a, b - a, 1,
                    prune_count(p.fraction(), b) - prune_count(p.fraction(), a),
                    pruned.data() + r * cols + a);
      }
  } else if (scope == MaskScope::kPerRowHalfBlock) {
    std::vector<int64_t> idx;  // the half's inputs
    std::vector<float> s;      // their scores
    std::vector<uint8_t> m;    // their marks
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t a = 0; a < cols; a += g.row_block) {
        const int64_t b = std::min(a + g.row_block, cols);
        for (int h = 0; h < 2; ++h) {  // gather the half's scores, mark, scatter the marks
          half_inputs(a, b, g.row_block, h, idx);
          s.resize(idx.size());
          m.assign(idx.size(), 0);
          for (size_t i = 0; i < idx.size(); ++i) s[i] = scores[r * cols + idx[i]];
          mark_lowest(s.data(), static_cast<int64_t>(idx.size()), 1,
                      half_share(p.fraction(), a, b, g.row_block, h), m.data());
          for (size_t i = 0; i < idx.size(); ++i) pruned[r * cols + idx[i]] = m[i];
        }
      }
  } else {
    mark_lowest(scores, rows * cols, 1, prune_count(p.fraction(), rows * cols), pruned.data());
  }
  return pruned;
}

PrunedWeights apply_mask(const float* w, int64_t rows, int64_t cols, std::vector<uint8_t> pruned) {
  const size_t n = static_cast<size_t>(rows * cols);
  if (pruned.size() != n) throw Error("mask size does not match the weight's shape");
  PrunedWeights out;
  out.weights.assign(w, w + n);
  for (size_t i = 0; i < n; ++i)
    if (pruned[i]) {
      out.weights[i] = 0.f;
      ++out.pruned_count;
    }
  out.pruned = std::move(pruned);
  return out;
}

void check_mask(const uint8_t* pruned, int64_t rows, int64_t cols, const SparsityPattern& p,
                MaskGroup g) {
  p.check_row(cols);
  check_group(g);
  const MaskScope scope = g.scope;
  if (p.is_n_of_m()) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < cols; g += p.m())
        if (const int64_t c = count_ones(pruned + r * cols + g, p.m()); c != p.m() - p.n())
          mask_mismatch(p, "row " + std::to_string(r) + " group at " + std::to_string(g), c,
                        p.m() - p.n());
  } else if (scope == MaskScope::kPerRow) {
    const int64_t want = prune_count(p.fraction(), cols);
    for (int64_t r = 0; r < rows; ++r)
      if (const int64_t c = count_ones(pruned + r * cols, cols); c != want)
        mask_mismatch(p, "row " + std::to_string(r), c, want);
  } else if (scope == MaskScope::kPerRowBlock) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t a = 0; a < cols; a += g.row_block) {
        const int64_t b = std::min(a + g.row_block, cols);
        const int64_t want = prune_count(p.fraction(), b) - prune_count(p.fraction(), a);
        if (const int64_t c = count_ones(pruned + r * cols + a, b - a); c != want)
          mask_mismatch(p, "row " + std::to_string(r) + " block at " + std::to_string(a), c, want);
      }
  } else if (scope == MaskScope::kPerRowHalfBlock) {
    std::vector<int64_t> idx;  // the half's inputs
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t a = 0; a < cols; a += g.row_block) {
        const int64_t b = std::min(a + g.row_block, cols);
        for (int h = 0; h < 2; ++h) {
          int64_t c = 0;
          half_inputs(a, b, g.row_block, h, idx);
          for (int64_t i : idx) c += pruned[r * cols + i] != 0;
          if (const int64_t want = half_share(p.fraction(), a, b, g.row_block, h); c != want)
            mask_mismatch(p,
                          "row " + std::to_string(r) + " block at " + std::to_string(a) + " half " +
                              std::to_string(h),
                          c, want);
        }
      }
  } else {
    const int64_t want = prune_count(p.fraction(), rows * cols);
    if (const int64_t c = count_ones(pruned, rows * cols); c != want)
      mask_mismatch(p, "the layer", c, want);
  }
}

}  // namespace edgefit
