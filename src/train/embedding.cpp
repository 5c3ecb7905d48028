#include "train/embedding.h"

#include <cstring>

namespace edgefit::train {

void embedding_forward(const float* table, const int32_t* ids, int64_t n, int64_t d, float* out) {
  for (int64_t t = 0; t < n; ++t)
    std::memcpy(out + t * d, table + int64_t{ids[t]} * d, static_cast<size_t>(d) * sizeof(float));
}

void embedding_backward(const int32_t* ids, const float* dy, int64_t n, int64_t d, float* dtable) {
  for (int64_t t = 0; t < n; ++t) {
    float* row = dtable + int64_t{ids[t]} * d;
    for (int64_t i = 0; i < d; ++i) row[i] += dy[t * d + i];
  }
}

}  // namespace edgefit::train
