// Token embedding lookup and its gradient (a scatter-add into the table's rows).
#pragma once

#include <cstdint>

namespace edgefit::train {

// out[t, :] = table[ids[t], :] for t < n (table {vocab, d}). Ids must be checked by the caller.
void embedding_forward(const float* table, const int32_t* ids, int64_t n, int64_t d, float* out);

// dtable[ids[t], :] += dy[t, :] for t < n, tokens in order (a repeated id sums its rows).
void embedding_backward(const int32_t* ids, const float* dy, int64_t n, int64_t d, float* dtable);

}  // namespace edgefit::train
