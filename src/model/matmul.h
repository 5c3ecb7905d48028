// The one matrix product of the forward pass: y = x · Wᵀ for a weight of any stored type.
//
// Every linear layer (q/k/v/o, gate/up/down, the output head) goes through `matmul()`, so a faster
// kernel (SIMD, activation-quantized dot products) can replace the reference one by installing a
// different function pointer with `set_matmul_kernel()` — nothing else in src/model changes.
// Weights stay in their stored type (F32/F16/BF16 or a ggml block format) and are dequantized one
// row at a time into a small per-thread buffer: there is never a whole-model f32 copy.
#pragma once

#include <cstdint>
#include <span>

#include "core/tensor.h"

namespace edgefit {

// y[t * n_out + o] = Σ_i W[o, i] · x[t * n_in + i] for t < n_tokens, where W is {n_out, n_in}.
// x and y must not overlap. Runs on ThreadPool::global(), parallel over output rows.
using MatmulFn = void (*)(const TensorView& w, const float* x, int64_t n_tokens, float* y);

// The kernel in use (the reference one unless replaced).
void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y);
// ys[i] = x · ws[i]ᵀ for several weights of the same input width (q/k/v; gate/up). With the
// runtime kernels this is one parallel job (activations quantized once, the pool woken once);
// with an installed kernel it is a loop of matmul(). Same results either way.
void matmul_multi(std::span<const TensorView* const> ws, const float* x, int64_t n_tokens,
                  std::span<float* const> ys);
// Plain f32 reference kernel with per-row dequantization (matmul_ref.cpp).
void matmul_ref(const TensorView& w, const float* x, int64_t n_tokens, float* y);
// Installs `fn` as the kernel behind matmul(); nullptr restores the default, the runtime SIMD
// kernels (kernels/kernels.h). Tests install matmul_ref to compare against the reference path.
void set_matmul_kernel(MatmulFn fn);

// True when rows of this dtype can be converted to f32 (F32/F16/BF16 always; block formats once
// src/quant provides their dequantizer).
bool can_dequantize(DType t);
// Writes row `row` of a 2-D (or 1-D, row 0) weight as f32 into dst[0 … row_size). Throws Error
// for a dtype that cannot be dequantized.
void dequantize_row(const TensorView& w, int64_t row, float* dst);

}  // namespace edgefit
