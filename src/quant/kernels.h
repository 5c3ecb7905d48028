// Row (de)quantizers of every supported format (internal to src/quant; the public entry points are
// the function pointers in quant_traits.h).
//
// Quantizers: `n` is a whole number of blocks. With importance == nullptr they reproduce ggml's
// `ggml_quantize_chunk(type, …, imatrix = NULL)` byte for byte. With an importance vector (one
// weight per element of src) they run ggml's importance-matrix search and then keep, block by
// block, whichever of that result and the no-importance result has the lower importance-weighted
// squared error (see keep_better_blocks). Dequantizers reproduce ggml's to_float bit for bit.
#pragma once

#include <cstdint>

namespace edgefit::quant {

// q_legacy.cpp: 32-weight formats.
void quantize_row_q8_0(const float* src, void* dst, int64_t n, const float* importance);
void quantize_row_q4_0(const float* src, void* dst, int64_t n, const float* importance);
void quantize_row_q4_1(const float* src, void* dst, int64_t n, const float* importance);
void quantize_row_q5_0(const float* src, void* dst, int64_t n, const float* importance);
void quantize_row_q5_1(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_row_q8_0(const void* src, float* dst, int64_t n);
void dequantize_row_q4_0(const void* src, float* dst, int64_t n);
void dequantize_row_q4_1(const void* src, float* dst, int64_t n);
void dequantize_row_q5_0(const void* src, float* dst, int64_t n);
void dequantize_row_q5_1(const void* src, float* dst, int64_t n);

// q_k_low.cpp: 2- and 3-bit k-quants.
void quantize_row_q2_k(const float* src, void* dst, int64_t n, const float* importance);
void quantize_row_q3_k(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_row_q2_k(const void* src, float* dst, int64_t n);
void dequantize_row_q3_k(const void* src, float* dst, int64_t n);

// q_k_high.cpp: 4-, 5-, 6- and 8-bit k-quants.
void quantize_row_q4_k(const float* src, void* dst, int64_t n, const float* importance);
void quantize_row_q5_k(const float* src, void* dst, int64_t n, const float* importance);
void quantize_row_q6_k(const float* src, void* dst, int64_t n, const float* importance);
void quantize_row_q8_k(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
void dequantize_row_q8_k(const void* src, float* dst, int64_t n);

// iq4_nl.cpp: 4-bit non-linear.
void quantize_row_iq4_nl(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_row_iq4_nl(const void* src, float* dst, int64_t n);

// q_float.cpp: plain float "quantizers" (conversions; importance is ignored).
void quantize_row_f32(const float* src, void* dst, int64_t n, const float* importance);
void quantize_row_f16(const float* src, void* dst, int64_t n, const float* importance);
void quantize_row_bf16(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_row_f32(const void* src, float* dst, int64_t n);
void dequantize_row_f16(const void* src, float* dst, int64_t n);
void dequantize_row_bf16(const void* src, float* dst, int64_t n);

// format_grid.cpp: GPTQ's fixed grids (format_grid.h): a block's step and offset per weight from
// its scale bytes, and codes packed into it under those scales.
void decode_grid_q8_0(const void* block, float* step, float* offset);
void decode_grid_q4_0(const void* block, float* step, float* offset);
void decode_grid_q4_1(const void* block, float* step, float* offset);
void decode_grid_q5_0(const void* block, float* step, float* offset);
void decode_grid_q5_1(const void* block, float* step, float* offset);
void decode_grid_iq4_nl(const void* block, float* step, float* offset);
void decode_grid_q2_k(const void* block, float* step, float* offset);
void decode_grid_q3_k(const void* block, float* step, float* offset);
void decode_grid_q4_k(const void* block, float* step, float* offset);
void decode_grid_q5_k(const void* block, float* step, float* offset);
void decode_grid_q6_k(const void* block, float* step, float* offset);
void pack_grid_q8_0(void* block, const uint8_t* q);
void pack_grid_q4_0(void* block, const uint8_t* q);
void pack_grid_q4_1(void* block, const uint8_t* q);
void pack_grid_q5_0(void* block, const uint8_t* q);
void pack_grid_q5_1(void* block, const uint8_t* q);
void pack_grid_iq4_nl(void* block, const uint8_t* q);
void pack_grid_q2_k(void* block, const uint8_t* q);
void pack_grid_q3_k(void* block, const uint8_t* q);
void pack_grid_q4_k(void* block, const uint8_t* q);
void pack_grid_q5_k(void* block, const uint8_t* q);
void pack_grid_q6_k(void* block, const uint8_t* q);

}  // namespace edgefit::quant
