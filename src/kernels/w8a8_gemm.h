// INT8 × INT8 matrix products for SmoothQuant's W8A8 layers.
//
// A model instance (model/transformer.h) runs its I8 weights that carry a "<weight>_scale" tensor
// through w8a8_matmul() with the ISA of its own kernel table (w8a8_isa_for), so there is no
// installed kernel and no process-global choice. Deliberately small: scalar reference, AVX2 and
// AVX-512 VNNI paths, all exact in integers.
//
// y[t, o] = float(Σ_i xq[t, i] · wq[o, i]) · (sx[t] · sw[o]), where the weights wq are INT8 in
// [−127, 127] with one scale sw per output channel, and each token's activations are quantized
// on the fly to xq in [−127, 127] with sx = max|x_t| / 127. The integer sum is exact on every
// path and the float step is one fixed expression, so every ISA gives identical floats.
#pragma once

#include <cstdint>

namespace edgefit {

namespace kernels {
struct KernelDispatch;
}

// Instruction sets of the int8 dot product.
enum class W8A8Isa { kScalar, kAvx2, kAvx512Vnni };
// The best one this CPU runs (EDGEFIT_ISA=scalar forces the reference).
W8A8Isa w8a8_best_isa();
// The int8 dot product that goes with a kernel table: AVX-512 VNNI with the avx512vnni table, AVX2
// with the avx2 and avxvnni tables, the scalar reference with the others (all give equal floats).
W8A8Isa w8a8_isa_for(const kernels::KernelDispatch& kd);
bool w8a8_isa_supported(W8A8Isa isa);
const char* w8a8_isa_name(W8A8Isa isa);

// Per-token symmetric INT8: sx[t] = max_i |x[t, i]| / 127, xq = round(x / sx) (0 for a zero row).
void quantize_activations_int8(const float* x, int64_t n_tokens, int64_t k, int8_t* xq, float* sx);

// Σ a[i]·b[i] over k int8 values (both in [−127, 127]) with the given ISA.
int32_t dot_i8(const int8_t* a, const int8_t* b, int64_t k, W8A8Isa isa);

// The W8A8 linear layer: w int8 [n_out, n_in], w_scale [n_out], x f32 [n_tokens, n_in] → y f32
// [n_tokens, n_out]. Parallel over output rows on the global pool, with `isa` (default: the best).
void w8a8_matmul(const int8_t* w, const float* w_scale, int64_t n_out, int64_t n_in, const float* x,
                 int64_t n_tokens, float* y, W8A8Isa isa = w8a8_best_isa());
// Same with a chosen ISA and single-threaded (tests, benches).
void w8a8_matmul_isa(const int8_t* w, const float* w_scale, int64_t n_out, int64_t n_in,
                     const float* x, int64_t n_tokens, float* y, W8A8Isa isa);

}  // namespace edgefit
