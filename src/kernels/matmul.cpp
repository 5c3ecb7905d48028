// kernels_matmul: quantize the activations once per call, then split output rows over the pool.
//
// The split is in fixed tasks of kRowsPerTask rows (a multiple of the 4-row register tile), so
// which rows share a tile never depends on the thread count; with the canonical accumulation order
// (kernels.h) 1 and N threads give identical floats. A gemm task's weights (64 rows) stay in L2
// while the gemm walks its 64-token blocks; gemv tasks are 16 rows so 2 threads balance.
#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "quant/quant_traits.h"

namespace edgefit {
namespace kernels {

namespace {

// Rows per parallel task: small for gemv so 2 threads balance, larger for gemm so a task's
// unpacked panel is reused by many tokens.
int64_t rows_per_task(int64_t n_tokens) {
  return n_tokens == 1 ? 16 : 64;
}

// The prepared activations of the calling thread (workers use thread_scratch for panels).
uint8_t* act_buffer(size_t bytes) {
  struct Buf {
    std::unique_ptr<std::byte[], void (*)(std::byte*)> p{
        nullptr, [](std::byte* q) { ::operator delete[](q, std::align_val_t{64}); }};
    size_t size = 0;
  };
  thread_local Buf buf;
  if (buf.size < bytes) {
    buf.p.reset(static_cast<std::byte*>(::operator new[](bytes, std::align_val_t{64})));
    buf.size = bytes;
  }
  return reinterpret_cast<uint8_t*>(buf.p.get());
}

size_t row_stride(const TensorView& w) {
  if (w.n_rows() <= 1) return w.row_bytes();
  if (w.ndim > 2 && !w.is_contiguous()) {
    throw Error("kernels_matmul: weight " + w.shape_string() + " is not contiguous");
  }
  return static_cast<size_t>(w.row(1) - w.row(0));
}

// Formats without kernels: dequantize one row at a time, then f32 dots.
void matmul_dequant(const KernelDispatch& kd, const TensorView& w, const float* x, int64_t n_tokens,
                    float* y, ThreadPool& pool) {
  const QuantTraits* qt = quant_traits(w.dtype);
  if (qt == nullptr) {
    throw Error("kernels_matmul: no kernel or dequantizer for " + std::string(dtype_name(w.dtype)));
  }
  const int64_t n_in = w.row_size(), n_out = w.n_rows();
  pool.parallel_for(n_out, 4, [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(n_in));
    for (int64_t r = r0; r < r1; ++r) {
      qt->dequantize_row(w.row(r), row.data(), n_in);
      for (int64_t t = 0; t < n_tokens; ++t) {
        y[t * n_out + r] = kd.f32.vec_dot(n_in, row.data(), x + t * n_in);
      }
    }
  });
}

}  // namespace

void matmul_with(const KernelDispatch& kd, const TensorView& w, const float* x, int64_t n_tokens,
                 float* y, ThreadPool* pool_in) {
  if (n_tokens <= 0 || w.n_rows() == 0) return;
  ThreadPool& pool = pool_in ? *pool_in : ThreadPool::global();
  const int64_t n_in = w.row_size(), n_out = w.n_rows();
  const FormatKernels* fk = kd.find(w.dtype);
  if (fk == nullptr || n_in % fk->block_size != 0) {
    matmul_dequant(kd, w, x, n_tokens, y, pool);
    return;
  }
  // Activations: f32 as given, otherwise quantized + regrouped once for all rows.
  const void* act = x;
  size_t act_stride = static_cast<size_t>(n_in) * sizeof(float);
  if (fk->act_type != DType::F32) {
    act_stride = (fk->act_row_bytes(n_in) + 63) / 64 * 64;
    uint8_t* buf = act_buffer(act_stride * static_cast<size_t>(n_tokens));
    pool.parallel_for(n_tokens, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) fk->prepare_act(x + t * n_in, n_in, buf + t * act_stride);
    });
    act = buf;
  }
  const size_t w_stride = row_stride(w);
  const int64_t rpt = rows_per_task(n_tokens);
  const int64_t n_tasks = (n_out + rpt - 1) / rpt;
  pool.parallel_for(n_tasks, 1, [&](int64_t b, int64_t e) {
    for (int64_t task = b; task < e; ++task) {
      const int64_t r0 = task * rpt, r1 = std::min(n_out, r0 + rpt);
      fk->gemm(n_in, w.row(r0), w_stride, r1 - r0, act, act_stride, n_tokens, y + r0, n_out);
    }
  });
}

}  // namespace kernels

void kernels_matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
  kernels::matmul_with(kernels::kernel_dispatch(), w, x, n_tokens, y, nullptr);
}

}  // namespace edgefit
