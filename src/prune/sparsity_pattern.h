// Which weights of a linear layer may be zero: the sparsity pattern a pruning method must produce.
//
// Two kinds, as llm-compressor and the SparseGPT/Wanda papers use them:
// - unstructured at a fraction f in [0, 1): floor(f · n) of every comparison group's n weights are
//   pruned (the group is a row or the whole layer, see mask_select.h);
// - N:M: in every group of M consecutive inputs of a row, at most N weights are kept (M − N are
//   pruned) — the 2:4 pattern sparse tensor cores accelerate, and 4:8. Rows must be a whole
//   number of groups.
// A value type: validated at construction, so a pattern that exists is a possible one.
#pragma once

#include <cstdint>
#include <string>

namespace edgefit {

class SparsityPattern {
 public:
  enum class Kind {
    kUnstructured,  // a fraction of each comparison group
    kNOfM,          // N kept of every M consecutive inputs of a row
  };

  // Dense: nothing pruned (unstructured at 0).
  SparsityPattern() = default;
  // Throws Error unless 0 <= fraction < 1 (pruning every weight is not a pattern).
  static SparsityPattern unstructured(double fraction);
  // Throws Error unless 1 <= n < m (m at most 256, so a group's mask fits small integers).
  static SparsityPattern n_of_m(int n, int m);
  // "0.5" (unstructured) or "2:4" (N:M). Throws Error naming the text when it is neither.
  static SparsityPattern parse(const std::string& text);

  Kind kind() const { return kind_; }
  bool is_n_of_m() const { return kind_ == Kind::kNOfM; }
  double fraction() const { return fraction_; }  // unstructured: the pruned fraction
  int n() const { return n_; }                   // N:M: weights kept per group
  int m() const { return m_; }                   // N:M: group width
  // The pruned fraction of a row this pattern asks for (N:M: (M − N) / M).
  double sparsity() const;
  // True when nothing is pruned.
  bool dense() const { return kind_ == Kind::kUnstructured && fraction_ == 0; }
  // "0.5" or "2:4", parse()'s inverse.
  std::string to_string() const;

  // Throws Error when rows of `row_len` inputs cannot take this pattern (N:M on a row that is not
  // a whole number of groups). `what` names the tensor for the message.
  void check_row(int64_t row_len, const std::string& what = "") const;

  bool operator==(const SparsityPattern&) const = default;

 private:
  Kind kind_ = Kind::kUnstructured;  // which of the two kinds
  double fraction_ = 0;              // unstructured: pruned fraction in [0, 1)
  int n_ = 0;                        // N:M: kept per group (0 for unstructured)
  int m_ = 0;                        // N:M: group width (0 for unstructured)
};

// The number of weights an unstructured fraction prunes from a group of n: floor(fraction · n),
// with a relative tolerance of 1e-12 so 0.29 · 100 counts 29 (floating point gives 28.999…). The
// same floor as Wanda's int(W.shape[1] · ratio) and SparseGPT's int(numel · sparsity).
int64_t prune_count(double fraction, int64_t n);

}  // namespace edgefit
