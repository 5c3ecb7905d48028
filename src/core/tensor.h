// A non-owning view of a tensor's bytes: element type, shape (up to 4-D) and strides.
//
// Shapes are written outermost first, as PyTorch and safetensors do: a linear layer's weight is
// {out_features, in_features} and a row is contiguous. (GGUF stores ne[] innermost first; the GGUF
// reader reverses it.) Strides are in bytes. For quantized block types the innermost dimension
// must be a whole number of blocks and is always contiguous: a block is the unit of storage.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/dtype.h"
#include "core/error.h"

namespace edgefit {

constexpr int kMaxDims = 4;

struct TensorView {
  DType dtype = DType::F32;                 // element type
  int ndim = 0;                             // number of dimensions in use (0 = scalar)
  std::array<int64_t, kMaxDims> shape{};    // extent per dimension, outermost first
  std::array<int64_t, kMaxDims> strides{};  // byte step per dimension (0 when unused)
  const uint8_t* data = nullptr;            // first byte (memory owned elsewhere, e.g. an mmap)
  uint8_t packing = 0;  // 0: the dtype's own (ggml) byte layout. Otherwise the same bytes per row
                        // regrouped at load time for the runtime kernels (kernels.h, "Weight
                        // repacking"); only src/kernels reads such views, dequantizers refuse them.

  // Contiguous view over `data` with the given shape.
  static TensorView contiguous(DType dtype, std::span<const int64_t> shape, const void* data);

  int64_t numel() const;
  // Elements in one row (innermost dimension); 1 for a scalar.
  int64_t row_size() const { return ndim == 0 ? 1 : shape[ndim - 1]; }
  // Number of rows (product of all but the innermost dimension).
  int64_t n_rows() const { return ndim == 0 ? 1 : numel() / row_size(); }
  // Bytes of one contiguous row.
  uint64_t row_bytes() const;
  // Total bytes when contiguous.
  uint64_t nbytes() const;
  bool is_contiguous() const;
  // Pointer to the start of row r (rows counted in row-major order over the outer dims).
  const uint8_t* row(int64_t r) const;
  std::string shape_string() const;  // "[512, 64]"
};

}  // namespace edgefit
