// Internal to src/train: the AVX-512 block dequantizers of gemm_bf16_unpack_avx512.cpp, as fused
// dequantize-to-bf16 packings (Bf16GemmTable::pack_b_quant) and as f32 rows for the f32
// products' tiles (train/linear.cpp).
#pragma once

#include "core/dtype.h"
#include "train/gemm_bf16.h"

namespace edgefit::train {

// The AVX-512 fused packing of `type` (Q4_0, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and the sparse
// Q4_2OF4, Q4_MASK50, Q4_MASK62), else nullptr.
// Only call where the CPU has AVX-512 (F, BW) and F16C.
PackBQuantFn pack_b_quant_avx512(DType type);

// k rows of n weights of a block-quantized type as f32, out [k, n] row-major, with the bits of
// the type's dequantize_row: w at the first block, rows row_bytes apart, n whole blocks.
using DequantRowsFn = void (*)(const uint8_t* w, int64_t row_bytes, int64_t k, int64_t n,
                               float* out);

// Both forms of one type (nullptr, nullptr: none).
struct FusedUnpack {
  PackBQuantFn pack;   // to bf16 pairs
  DequantRowsFn rows;  // to f32 rows
};

// The AVX-512 f32 rows of the same types, else nullptr. Only call where kernels::float_simd() is
// AVX-512 (which implies F16C); off x86 it returns nullptr.
DequantRowsFn dequantize_rows_avx512(DType type);

}  // namespace edgefit::train
