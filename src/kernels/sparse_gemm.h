// Internal to src/kernels: the row loop the sparse kernels' gemm entries share (scalar, AVX2,
// NEON, AVX-512). Portable code only. Every Dot is a kernel in its
// file's anonymous namespace, so each instantiation has internal linkage: an ISA-flagged file's
// copy can never stand in for another file's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"
#include "kernels/prefetch.h"

namespace edgefit::kernels::detail {

// y[t · y_stride + r] = Dot(row r, activation row t), rows in address order.
template <VecDotFn Dot>
void sparse_gemm_rows(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
                      size_t act_stride, int64_t n_tok, float* y, int64_t y_stride) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const void* wr = static_cast<const uint8_t*>(w) + r * w_stride;
    for (int64_t t = 0; t < n_tok; ++t)
      y[t * y_stride + r] = Dot(n, wr, static_cast<const uint8_t*>(act) + t * act_stride);
  }
}

// The same for a Dot that prefetches pf bytes ahead of the blocks it reads (pf = 0: none): one
// stream kPfScale · packed_prefetch_bytes() ahead (prefetch.h) on the first token's pass over a
// row (rows as stored are contiguous, so the stream crosses row ends); later tokens find the row
// in cache. kPfScale > 1 for a kernel that measured faster further ahead (the 2:4 one).
template <float (*DotPf)(int64_t, const void*, const void*, int64_t), int kPfScale = 1>
void sparse_gemm_rows_streamed(int64_t n, const void* w, size_t w_stride, int64_t n_rows,
                               const void* act, size_t act_stride, int64_t n_tok, float* y,
                               int64_t y_stride) {
  const int64_t pf = kPfScale * packed_prefetch_bytes();
  for (int64_t r = 0; r < n_rows; ++r) {
    const void* wr = static_cast<const uint8_t*>(w) + r * w_stride;
    for (int64_t t = 0; t < n_tok; ++t)
      y[t * y_stride + r] =
          DotPf(n, wr, static_cast<const uint8_t*>(act) + t * act_stride, t == 0 ? pf : 0);
  }
}

// The scalar twin's entry (same activations, block size and slot facts) with Dot instead.
template <VecDotFn Dot>
FormatKernels with_sparse_dot(const FormatKernels& scalar_twin) {
  FormatKernels k = scalar_twin;
  k.vec_dot = Dot;
  k.gemm = sparse_gemm_rows<Dot>;
  return k;
}

}  // namespace edgefit::kernels::detail
