// Internal to src/train's bf16 tables: the fused dequantize-to-bf16 packings of block-quantized
// rows (Bf16GemmTable::pack_b_quant), built in gemm_bf16_unpack_avx512.cpp.
#pragma once

#include "core/dtype.h"
#include "train/gemm_bf16.h"

namespace edgefit::train {

// The AVX-512 fused packing of `type` (Q4_0, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K), else nullptr.
// Only call where the CPU has AVX-512 (F, BW) and F16C.
PackBQuantFn pack_b_quant_avx512(DType type);

}  // namespace edgefit::train
