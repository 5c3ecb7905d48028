#include "core/tensor.h"

namespace edgefit {

TensorView TensorView::contiguous(DType dtype, std::span<const int64_t> shape, const void* data) {
  if (shape.size() > kMaxDims) throw Error("tensor has more than 4 dimensions");
  TensorView v;
  v.dtype = dtype;
  v.ndim = static_cast<int>(shape.size());
  for (int i = 0; i < v.ndim; ++i) v.shape[i] = shape[i];
  v.data = static_cast<const uint8_t*>(data);
  if (v.ndim > 0) {
    int64_t stride = static_cast<int64_t>(v.row_bytes());
    v.strides[v.ndim - 1] = static_cast<int64_t>(dtype_info(dtype)->type_size);
    for (int i = v.ndim - 2; i >= 0; --i) {
      v.strides[i] = stride;
      stride *= v.shape[i];
    }
  }
  return v;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= shape[i];
  return n;
}

uint64_t TensorView::row_bytes() const {
  auto b = dtype_bytes(dtype, static_cast<uint64_t>(row_size()));
  if (!b)
    throw Error("row of " + std::to_string(row_size()) + " elements is not a whole number of " +
                std::string(dtype_name(dtype)) + " blocks");
  return *b;
}

uint64_t TensorView::nbytes() const {
  return row_bytes() * static_cast<uint64_t>(n_rows());
}

bool TensorView::is_contiguous() const {
  if (ndim == 0) return true;
  int64_t expect = static_cast<int64_t>(row_bytes());
  for (int i = ndim - 2; i >= 0; --i) {
    if (strides[i] != expect) return false;
    expect *= shape[i];
  }
  return true;
}

const uint8_t* TensorView::row(int64_t r) const {
  if (ndim <= 1) return data;
  // Decompose r over the outer dimensions, innermost outer dim fastest.
  const uint8_t* p = data;
  for (int i = ndim - 2; i >= 0; --i) {
    p += (r % shape[i]) * strides[i];
    r /= shape[i];
  }
  return p;
}

std::string TensorView::shape_string() const {
  std::string s = "[";
  for (int i = 0; i < ndim; ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace edgefit
