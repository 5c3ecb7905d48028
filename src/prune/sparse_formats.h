// The sparse storage formats moved to quant/q_sparse.h (they are GGUF types in the quant traits
// table now); pruning only has to know that its per-row mask blocks fit one sparse block.
#pragma once

#include "prune/mask_select.h"
#include "quant/q_sparse.h"

namespace edgefit {
static_assert(kSparseBlock == kMaskRowBlock);  // masks chosen per row block fit a sparse block
}  // namespace edgefit
