// Keep-lists: which of n units (attention KV groups, FFN channels, whole layers) a structured
// pruning keeps, chosen from per-unit scores (low score = removed first).
//
// A keep-list is the sorted indices of the kept units. It is what a recipe stores and what the
// export slices weights with, so it is validated wherever it enters: in range, strictly
// increasing, not empty.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace edgefit {

// Keeps all but the `n_remove` lowest of `scores` (ties: the lower index is removed first), in
// increasing index order. Throws Error unless 0 <= n_remove < scores.size() (a structure cannot
// lose every unit) or when a score is NaN. `what` names the units for messages ("FFN channels").
std::vector<int64_t> select_keep(const std::vector<double>& scores, int64_t n_remove,
                                 const std::string& what);

// The same with n_remove = floor(fraction · n) (prune_count). Throws Error for a fraction outside
// [0, 1) or one that would remove every unit.
std::vector<int64_t> select_keep_fraction(const std::vector<double>& scores, double fraction,
                                          const std::string& what);

// Throws Error naming `what` unless keep is non-empty, strictly increasing and within [0, n).
void check_keep_list(const std::vector<int64_t>& keep, int64_t n, const std::string& what);

}  // namespace edgefit
