// Keep-list selection and validation (see keep_list.h).
#include "prune/keep_list.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "prune/sparsity_pattern.h"

namespace edgefit {

std::vector<int64_t> select_keep(const std::vector<double>& scores, int64_t n_remove,
                                 const std::string& what) {
  const int64_t n = static_cast<int64_t>(scores.size());
  if (n_remove < 0 || n_remove >= n)
    throw Error("cannot remove " + std::to_string(n_remove) + " of " + std::to_string(n) + " " +
                what + ": at least one must stay");
  for (int64_t i = 0; i < n; ++i)
    if (std::isnan(scores[static_cast<size_t>(i)]))
      throw Error(what + ": score of unit " + std::to_string(i) + " is not a number");
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  // Lowest first, lower index first among equals: a strict total order, so the result is unique.
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const double sa = scores[static_cast<size_t>(a)], sb = scores[static_cast<size_t>(b)];
    return sa < sb || (sa == sb && a < b);
  });
  std::vector<int64_t> keep(order.begin() + n_remove, order.end());
  std::sort(keep.begin(), keep.end());
  return keep;
}

std::vector<int64_t> select_keep_fraction(const std::vector<double>& scores, double fraction,
                                          const std::string& what) {
  if (!(fraction >= 0 && fraction < 1))
    throw Error(what + ": fraction to remove " + std::to_string(fraction) + " is outside [0, 1)");
  return select_keep(scores, prune_count(fraction, static_cast<int64_t>(scores.size())), what);
}

void check_keep_list(const std::vector<int64_t>& keep, int64_t n, const std::string& what) {
  if (keep.empty()) throw Error("keep-list of " + what + " is empty: at least one must stay");
  for (size_t i = 0; i < keep.size(); ++i) {
    if (keep[i] < 0 || keep[i] >= n)
      throw Error("keep-list of " + what + ": index " + std::to_string(keep[i]) +
                  " is out of range [0, " + std::to_string(n) + ")");
    if (i > 0 && keep[i] <= keep[i - 1])
      throw Error("keep-list of " + what + ": index " + std::to_string(keep[i]) +
                  " does not follow " + std::to_string(keep[i - 1]) + " in increasing order");
  }
}

}  // namespace edgefit
