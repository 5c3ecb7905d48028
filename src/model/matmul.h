// The one matrix product of the forward pass: y = x · Wᵀ for a weight of any stored type.
//
// Every linear layer (q/k/v/o, gate/up/down, the output head) goes through one MatmulChoice, held
// by its model instance (Transformer; train::TrainModel's frozen layers; the calibration pipeline
// through PipelineOptions), so two models in one process can run on different kernel
// tables (or one on the f32 reference) without a process-global switch.
// Weights stay in their stored type (F32/F16/BF16 or a ggml block format) and are dequantized one
// row at a time into a small per-thread buffer: there is never a whole-model f32 copy.
#pragma once

#include <cstdint>
#include <span>

#include "core/tensor.h"

namespace edgefit {

namespace kernels {
struct KernelDispatch;
}

// y[t * n_out + o] = Σ_i W[o, i] · x[t * n_in + i] for t < n_tokens, where W is {n_out, n_in}.
// x and y must not overlap. Runs on ThreadPool::global(), parallel over output rows.
using MatmulFn = void (*)(const TensorView& w, const float* x, int64_t n_tokens, float* y);

// How one model instance computes its linear layers. The default is the runtime kernels on the
// process's best table (kernel_dispatch(): the CPU's best ISA, or EDGEFIT_ISA).
struct MatmulChoice {
  const kernels::KernelDispatch* table = nullptr;  // runtime kernels' ISA table; nullptr: the
                                                   // process default, kernel_dispatch()
  MatmulFn fn = nullptr;  // a plain function instead of the runtime kernels (tests: matmul_ref,
                          // the dequantize-then-f32 reference); nullptr: the table's kernels
};
// The table `choice` runs on (its own, else kernel_dispatch()), also when `fn` is set: W8A8 and
// weight repacking follow the instance's ISA.
const kernels::KernelDispatch& kernel_table(const MatmulChoice& choice);

// y = x · Wᵀ with `choice`.
void matmul(const MatmulChoice& choice, const TensorView& w, const float* x, int64_t n_tokens,
            float* y);
// ys[i] = x · ws[i]ᵀ for several weights of the same input width (q/k/v; gate/up). With the
// runtime kernels this is one parallel job (activations quantized once, the pool woken once);
// with a plain function it is a loop of it. Same results either way.
void matmul_multi(const MatmulChoice& choice, std::span<const TensorView* const> ws, const float* x,
                  int64_t n_tokens, std::span<float* const> ys);

// Plain f32 reference kernel with per-row dequantization (matmul_ref.cpp).
void matmul_ref(const TensorView& w, const float* x, int64_t n_tokens, float* y);
// True when rows of this dtype can be converted to f32 (F32/F16/BF16 always; block formats once
// src/quant provides their dequantizer).
bool can_dequantize(DType t);
// Writes row `row` of a 2-D (or 1-D, row 0) weight as f32 into dst[0 … row_size). Throws Error
// for a dtype that cannot be dequantized.
void dequantize_row(const TensorView& w, int64_t row, float* dst);

}  // namespace edgefit
