// How much of a weight is pruned: the fraction of its values that are exactly 0 once
// dequantized. Read by `edgefit inspect --sparsity` (per tensor) and by `edgefit compress`'s
// report for pruned candidates (per tensor and per layer).
#pragma once

#include "core/tensor.h"

namespace edgefit {

// The fraction of `v`'s values that are exactly 0 once dequantized, one row at a time (no copy
// of the whole tensor); -1 for a non-contiguous tensor or a type without a dequantizer (it has no
// meaningful zeros to count). Counting dequantized values makes a pruned weight count in any type
// that stores it as 0, dense or sparse.
double zero_fraction(const TensorView& v);

}  // namespace edgefit
