// The element-wise f32 loops of a training step that call exp (attention's softmax rows, SwiGLU's
// sigmoid, the cross-entropy's log-sum-exp), compiled per ISA with the GEMMs (train/gemm.h):
// Eigen's vectorised exp (a polynomial within ~1 ulp of std::exp, range-clamped, so never NaN for
// finite inputs) over 4 (baseline), 8 (AVX2) or 16 (AVX-512) floats at a time instead of one libm
// call per element.
//
// Float order: as the GEMM tables, each table is deterministic (results depend on the values and
// lengths only, never on the thread count), and the tables differ from each other in the last
// bits; the gradient tests hold at 1e-4 on each.
#pragma once

#include <cstdint>

namespace edgefit::train {

struct VectorMathTable {
  // The largest of x[0 .. n) (n >= 1).
  float (*max)(const float* x, int64_t n);
  // out[j] = exp(x[j] − shift) for j < n (out may be x); returns Σ out[j], accumulated in double.
  double (*exp_shifted_sum)(const float* x, int64_t n, float shift, float* out);
  // The softmax backward of one row of scores: p[j] = exp(p[j] − lse), then
  // ds[j] = p[j] · (ds[j] − dot) (ds holds dp on entry), for j < n.
  void (*softmax_backward_row)(float* p, float* ds, int64_t n, float lse, float dot);
  // h[i] = SiLU(gate[i]) · up[i] with SiLU(z) = z · σ(z), σ(z) = 1 / (1 + exp(−z)).
  void (*swiglu_forward)(const float* gate, const float* up, int64_t n, float* h);
  // d_up = dh · SiLU(gate), d_gate = dh · up · σ(gate) · (1 + gate · (1 − σ(gate))); dh may alias
  // either output (each element read before it is written).
  void (*swiglu_backward)(const float* gate, const float* up, const float* dh, int64_t n,
                          float* d_gate, float* d_up);
  const char* isa;  // "generic", "avx2", "avx512": the GEMM table's ISA
};

// The process's table (the same ISA as gemm_table()).
const VectorMathTable& vector_math();
// The per-ISA tables (in gemm_generic.cpp, gemm_avx2.cpp, gemm_avx512.cpp); only call one the
// CPU supports.
const VectorMathTable& vector_math_generic();
const VectorMathTable& vector_math_avx2();
const VectorMathTable& vector_math_avx512();

}  // namespace edgefit::train
