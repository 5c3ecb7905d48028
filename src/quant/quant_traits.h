// The quantization type-traits table (one row per element type we can produce, in ggml's style)
// and whole-tensor quantize/dequantize on top of it.
//
// A format's row holds every fact about it that is not a runtime kernel: block size and bytes
// (taken from core/dtype's raw table at compile time, checked against the block struct), the
// quantizer and dequantizer, whether it searches scales and uses importance, the activation type
// ggml pairs with it, and GPTQ's grid. Adding a format: its row here (quant_traits.cpp), its
// functions (declared in quant/kernels.h), and its kernels (src/kernels); see
// docs/architecture.md.
//
// Every quantizer with importance == nullptr reproduces ggml b4748's
// `ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row, imatrix = NULL)` byte for byte, and
// every dequantizer reproduces ggml's `to_float` bit for bit (checked against ../shared/ref/quant).
// An importance vector (per-element weights, e.g. from an imatrix) switches the formats that
// support it to an importance-weighted scale search that is never worse, block by block, than the
// no-importance bytes under the importance-weighted squared error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/dtype.h"
#include "quant/format_grid.h"

namespace edgefit {

class ThreadPool;

// Quantizes n elements (a whole number of blocks) of src into dst. importance: null, or n
// per-element weights >= 0 (larger = that weight's error matters more).
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n, const float* importance);
// Dequantizes n elements (a whole number of blocks) of src into dst.
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);
// Dot product of n quantized elements with n floats. The table's entries are scalar references
// (dequantize, then accumulate in double): correct but slow; the runtime brings fast kernels.
using VecDotF32Fn = float (*)(const void* x, const float* y, int64_t n);

// One format's row. The table (quant_traits.cpp) writes the facts of its own with designated
// initializers; the row template fills in what the type and its functions determine.
struct QuantTraits {
  DType type = DType::F32;                   // the element type this row describes
  int block_size = 1;                        // elements per block (1 for F32/F16/BF16)
  int type_size = 4;                         // bytes per block
  QuantizeRowFn quantize_row = nullptr;      // f32 → this type (conversion for the float types)
  DequantizeRowFn dequantize_row = nullptr;  // this type → f32
  bool has_search = false;                   // quantizer searches scales even without importance
                                             // (Q2_K..Q6_K, IQ4_NL); false for closed-form formats
  bool uses_importance = false;       // an importance vector changes the output (all search types
                                      // plus Q4_0/Q4_1/Q5_0/Q5_1, as in ggml's imatrix paths)
  DType vec_dot_type = DType::F32;    // the activation type ggml pairs with it in matmuls
                                      // (Q8_0, Q8_1 or Q8_K; the type itself for float types)
  VecDotF32Fn vec_dot_f32 = nullptr;  // scalar reference dot against f32 (never null)
  FormatGrid gptq_grid = {};  // GPTQ's fixed grid (format_grid.h); decode == nullptr when GPTQ
                              // cannot target the format
};

// The row for a type, or nullptr when we cannot quantize to it (e.g. IQ2_XXS, I32).
const QuantTraits* quant_traits(DType type);
// All rows, F32/F16/BF16 first, then the block formats in ggml id order.
std::span<const QuantTraits> all_quant_traits();

// Bytes of one row of row_len elements; throws edgefit::Error for an unsupported type or a
// row_len that is not a whole number of blocks.
size_t quant_row_size(DType type, int64_t row_len);

// Quantizes an [n_rows, row_len] row-major f32 matrix to `type` into dst (n_rows * row_size
// bytes), rows in parallel. importance: null, or row_len weights shared by every row (an imatrix
// column vector). pool: where rows run (null: ThreadPool::global()); must not be called from
// inside a parallel_for of the same pool. Returns the bytes written. Throws edgefit::Error on an
// unsupported type or a row_len that is not a multiple of the block size.
size_t quantize_tensor(DType type, const float* src, int64_t n_rows, int64_t row_len, void* dst,
                       const float* importance, ThreadPool* pool = nullptr);

// Dequantizes n_rows rows of row_len elements of `type` from src into dst (row-major f32).
void dequantize_tensor(DType type, const void* src, int64_t n_rows, int64_t row_len, float* dst,
                       ThreadPool* pool = nullptr);

}  // namespace edgefit
