// Linear layers for training: y = x · Wᵀ + b, and its two backward products.
//
// Activations are row-major [n_tokens, width] f32. The trainable weights are f32 {n_out, n_in}
// (train/parameters.h); the input gradient also accepts a frozen weight of any stored type
// (F16/BF16/ggml blocks), dequantized one row at a time into a small buffer, so a compressed base
// model never exists as a dequantized copy (the LoRA path builds on this).
//
// The products are Eigen GEMMs on blocks of a fixed size (64 outputs, split further into 64 tokens
// or 256 input columns when there is only one such block, as for LoRA's A; 128 tokens × 256
// columns for the input gradient), one block per pool task: every output element has one writer and
// an order set by the shapes alone, so results do not depend on the thread count or on how the pool
// splits the work (tests/train/ops_grad_test.cpp checks 1 vs 2 threads). That is what makes
// gradient checkpointing reproduce the stored activations bit for bit. The input gradient through a
// quantized weight dequantizes each row once per 128-token block, a few rows' columns at a time,
// never the whole weight.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "train/gemm_bf16.h"

namespace edgefit::train {

// Σ_i a[i]·b[i] with 8 interleaved f32 partial sums (vectorisable, fixed order).
float dot_f32(const float* a, const float* b, int64_t n);

// y[t, o] = Σ_i x[t, i] · w[o, i] (+ b[o] when b is not null), for t < n. Parallel over rows o
// (and tokens when n_out <= 64). With `accumulate`, y[t, o] += alpha · Σ_i x[t, i] · w[o, i]
// instead (b must be null): LoRA's B product adds its scaled delta in the GEMM itself.
void linear_forward(const float* w, const float* b, int64_t n_out, int64_t n_in, const float* x,
                    int64_t n, float* y, float alpha = 1.0f, bool accumulate = false);

// dx[t, i] (+)= Σ_o dy[t, o] · W[o, i] for a weight W {n_out, n_in} of any dequantizable type;
// `accumulate` adds to dx instead of overwriting it. Parallel over token chunks. With
// TrainProducts::kBf16 the tiles' products round dy and W to bf16 (train/gemm_bf16.h; f32 sums).
void linear_backward_input(const TensorView& w, const float* dy, int64_t n, float* dx,
                           bool accumulate, TrainProducts products = TrainProducts::kF32);

// dw[o, i] += Σ_t dy[t, o] · x[t, i] and, when db is not null, db[o] += Σ_t dy[t, o].
// Parallel over rows o (and columns i when n_out <= 64).
void linear_backward_weight(const float* x, const float* dy, int64_t n, int64_t n_out, int64_t n_in,
                            float* dw, float* db);

// A contiguous F32 view of w {n_out, n_in}, for passing trainable weights to
// linear_backward_input().
TensorView f32_matrix_view(const float* w, int64_t n_out, int64_t n_in);

}  // namespace edgefit::train
