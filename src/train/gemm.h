// The f32 matrix products of training (linear layers' LoRA and backward products, attention's
// score blocks) on one thread, compiled per ISA: Eigen's GEMM built for the baseline, AVX2+FMA
// and AVX-512, chosen once by kernels/float_simd.h (the runtime kernels' ISA, so EDGEFIT_ISA
// forces it too, capped by the CPU's features), as model/attention.h chooses its kernel.
//
// Float order: each table is deterministic (fixed by the shapes alone, never by the thread
// count: callers split work into fixed blocks, one writer per output), but the tables differ
// from each other in the last bits, since Eigen's packet width sets its accumulation order.
// Training results (and resumed checkpoints) are therefore bit-identical on one ISA, not
// across ISAs; the gradient tests hold at 1e-4 on each. The runtime's integer kernels keep their
// one float order; this is the training room's f32 algebra only.
//
// All matrices are row-major with explicit leading dimensions (floats between rows).
#pragma once

#include <cstdint>

namespace edgefit::train {

struct GemmTable {
  // C[m, n] = alpha · A[m, k] · B[n, k]ᵀ, added to C when `accumulate`.
  void (*nt)(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
             const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate);
  // C[m, n] = alpha · A[m, k] · B[k, n], added to C when `accumulate`.
  void (*nn)(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
             const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate);
  // C[m, n] = alpha · A[k, m]ᵀ · B[k, n], added to C when `accumulate`.
  void (*tn)(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
             const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate);
  const char* isa;  // "generic", "avx2", "avx512"
};

// The process's table (chosen once).
const GemmTable& gemm_table();

// The per-ISA tables (gemm_generic.cpp, gemm_avx2.cpp, gemm_avx512.cpp); only call one the CPU
// supports.
const GemmTable& gemm_table_generic();
const GemmTable& gemm_table_avx2();
const GemmTable& gemm_table_avx512();

}  // namespace edgefit::train
