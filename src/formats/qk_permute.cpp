#include "formats/qk_permute.h"

#include <cstring>

namespace edgefit {

namespace {
// dst row r = src row source_row(r, head_dim), whole rows of row_bytes each.
void copy_rows(const void* src, void* dst, int64_t n_rows, uint64_t row_bytes, int64_t head_dim,
               int64_t (*source_row)(int64_t, int64_t)) {
  auto* d = static_cast<uint8_t*>(dst);
  const auto* s = static_cast<const uint8_t*>(src);
  for (int64_t r = 0; r < n_rows; ++r)
    std::memcpy(d + r * row_bytes, s + source_row(r, head_dim) * row_bytes, row_bytes);
}
}  // namespace

void qk_permute_rows_hf_to_gguf(const void* src, void* dst, int64_t n_rows, uint64_t row_bytes,
                                int64_t head_dim) {
  copy_rows(src, dst, n_rows, row_bytes, head_dim, qk_hf_row_for_gguf_row);
}

void qk_permute_rows_gguf_to_hf(const void* src, void* dst, int64_t n_rows, uint64_t row_bytes,
                                int64_t head_dim) {
  copy_rows(src, dst, n_rows, row_bytes, head_dim, qk_gguf_row_for_hf_row);
}

}  // namespace edgefit
