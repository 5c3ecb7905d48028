// One linear layer of a block as training sees it: a weight that is either trainable (an f32
// Parameter, full training) or frozen (the model's own TensorView in any stored type, left in
// the mmap), an optional bias, and an optional LoRA adapter:
//
//   y = x·Wᵀ + b + s · (x·Aᵀ)·Bᵀ,    A {r, n_in}, B {n_out, r}, s = alpha / r
//
// Frozen weights run forward through model/matmul.h's matmul() with the layer's MatmulChoice (the
// runtime's quantized kernels by default, as inference does; the f32 reference in tests — held
// per layer, set by its TrainModel, never a process-global switch) and backward through
// linear_backward_input's row-by-row dequantization, so a compressed base is never expanded to f32
// as a whole; that product is bf16 for block-quantized weights on the runtime kernels' choice
// (train/gemm_bf16.h: train_products()) and f32 on a plain function's (the reference). The
// adapter's gradients, with g = dy·B:  dB
// += s · dyᵀ·(x·Aᵀ),  dA += s · gᵀ·x,  dx
// += s · g·A. x·Aᵀ is recomputed in the backward (r/n_out of the base product) rather than saved.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "model/matmul.h"
#include "train/parameters.h"

namespace edgefit::train {

struct LoraAdapter {
  Parameter* a = nullptr;  // {r, n_in}, trained; nullptr: no adapter on this layer
  Parameter* b = nullptr;  // {n_out, r}, trained (starts at zero: the adapter starts as a no-op)
  float scale = 1.0f;      // alpha / r
};

struct LinearLayer {
  Parameter* weight = nullptr;         // trainable f32 weight {n_out, n_in}, or nullptr if frozen
  const TensorView* frozen = nullptr;  // frozen weight {n_out, n_in} when `weight` is nullptr
  Parameter* bias = nullptr;           // [n_out] (qwen2 q/k/v), or nullptr
  LoraAdapter lora;                    // adapter, when lora.a is set
  MatmulChoice product;                // kernels of the frozen weight's forward product

  int64_t n_out() const;
  int64_t n_in() const;
};

// y [n, n_out] = the layer applied to x [n, n_in].
void linear_layer_forward(const LinearLayer& l, const float* x, int64_t n, float* y);

// dx [n, n_in] (overwritten, or added to with `accumulate`) from dy [n, n_out]; adds the
// gradients of every trainable part (weight, bias, adapter) to their Parameter::grad. A bias
// gets its gradient even when the weight is frozen (it is a separate parameter).
void linear_layer_backward(const LinearLayer& l, const float* x, const float* dy, int64_t n,
                           float* dx, bool accumulate);

}  // namespace edgefit::train
