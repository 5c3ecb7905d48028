// bf16 products for the frozen base's input gradient (train/linear.h): dx = dy · W with both
// inputs rounded to bf16 (round to nearest even) and every sum in f32, as AVX512-BF16's
// vdpbf16ps computes it. The issue allows bf16 matrix products where the CPU has them; the f32
// Eigen products (train/gemm.h) stay the reference (train_products() says which runs where).
//
// Layout. vdpbf16ps multiplies pairs of bf16 along the reduction dimension k in each 32-bit lane,
// so both inputs are packed as pairs: A [m, k] row-major with k rounded up to even (a zero
// column), i.e. one uint32 per (row, k pair), low half the even k; B [k, n] interleaved by row
// pairs, one uint32 per (k pair, column). Packing rounds with integer arithmetic (no NaN handling:
// weights and gradients are finite), the same bits in every table.
//
// Float order: each output starts from C (or 0) and adds, pair by pair in k order, the odd then
// the even product (Intel's order for vdpbf16ps; a product of two bf16 is exact in f32). The
// scalar table does exactly that, and so does the AVX-512 one, with f32 FMAs on the widened inputs
// (bit-identical to it; vdpbf16ps would flush denormals and was slower, gemm_bf16_avx512.cpp).
// AMX-BF16 adds the even product first (and its leftovers go through the AVX-512 table): equal
// within float-order tolerance. Every table's order is fixed by the shapes.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace edgefit::train {

// pack_b() of block-quantized rows dequantized on the fly, with the same bits as the type's
// dequantize_row then pack_b: w points at the tile's first block in its first row, rows are
// row_bytes apart, n is a whole number of the type's blocks.
using PackBQuantFn = void (*)(const uint8_t* w, int64_t row_bytes, int64_t k, int64_t n,
                              uint32_t* packed);

struct Bf16GemmTable {
  // packed[(kk / 2) · n + j] holds bf16(b[kk, j]) in its low (even kk) or high (odd kk) half,
  // for kk < k rounded up to even (a missing odd row is zero). b is row-major with stride ldb.
  void (*pack_b)(const float* b, int64_t k, int64_t n, int64_t ldb, uint32_t* packed);
  // C[m, n] = A · B (+ C when `accumulate`): A [m, k_pairs] pairs packed by pack_bf16_rows()
  // (row stride lda pairs: a column slice of a wider packing), B [k_pairs, n] by pack_b() (row
  // stride ldb pairs); C row-major with stride ldc.
  void (*nn)(int64_t m, int64_t n, int64_t k_pairs, const uint32_t* a, int64_t lda,
             const uint32_t* b, int64_t ldb, float* c, int64_t ldc, bool accumulate);
  // The fused pack_b() of block-quantized rows of `type` (nullptr: none for this type here, or the
  // scalar table: the caller dequantizes rows and calls pack_b).
  PackBQuantFn (*pack_b_quant)(DType type);
  const char* isa;  // "scalar", "avx512bf16" (chosen on AVX512-BF16 CPUs), "amxbf16"
};

// x rounded to the nearest bf16 (ties to even), as the high 16 bits of an f32.
uint32_t bf16_bits(float x);

// A [m, k] (row stride lda) as bf16 pairs: packed[i · k_pairs + p] = bf16(a[i, 2p]) |
// bf16(a[i, 2p + 1]) << 16 with k_pairs = (k + 1) / 2 (a missing odd column is zero).
void pack_bf16_rows(const float* a, int64_t m, int64_t k, int64_t lda, uint32_t* packed);

// Which products training's frozen-weight input gradient uses.
enum class TrainProducts {
  kF32,   // Eigen f32 (train/gemm.h): the reference
  kBf16,  // bf16 inputs, f32 sums (this file)
};

// The products for a frozen weight of type `frozen` whose forward runs on the runtime kernels.
// Default: bf16 for block-quantized weights (their forward already rounds activations to 8 bits;
// a 150-step recover run on polyglot q2_k reached the same KLD either way, docs/training.md) and
// f32 for F32/F16/BF16 weights, whose forward is exact. EDGEFIT_TRAIN_BF16=0 forces f32 for all,
// =1 bf16 for all. bf16 is granted only where bf16_gemm_table() is not the scalar one (the CPU
// has AVX512-BF16 and EDGEFIT_ISA allows AVX-512); f32 otherwise.
TrainProducts train_products(DType frozen);

// Where the float ISA is AVX-512 and the CPU has AVX512-BF16: the AMX-BF16 table when the process
// may use AMX tiles (kernels/amx_tiles.h), else the AVX512-BF16 one; elsewhere the scalar one.
const Bf16GemmTable& bf16_gemm_table();
const Bf16GemmTable& bf16_gemm_table_scalar();
const Bf16GemmTable& bf16_gemm_table_avx512();  // only where kernels::float_simd() is AVX-512
const Bf16GemmTable& bf16_gemm_table_amx();     // only where amx_support().bf16 also holds

}  // namespace edgefit::train
