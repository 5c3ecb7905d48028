#include "quant/zero_fraction.h"

#include <vector>

#include "core/error.h"
#include "quant/quant_traits.h"

namespace edgefit {

double zero_fraction(const TensorView& v) {
  if (v.numel() == 0 || !v.is_contiguous()) return -1;
  const int64_t rows = v.n_rows(), cols = v.row_size();
  const size_t row_bytes = v.nbytes() / static_cast<size_t>(rows);
  std::vector<float> row(static_cast<size_t>(cols));
  int64_t zeros = 0;
  try {
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_tensor(v.dtype, static_cast<const uint8_t*>(v.data) + r * row_bytes, 1, cols,
                        row.data());
      for (const float x : row) zeros += x == 0.f;
    }
  } catch (const Error&) {
    return -1;
  }
  return static_cast<double>(zeros) / static_cast<double>(v.numel());
}

}  // namespace edgefit
