// Reference matmul: dequantize a chunk of weight rows to f32, then plain dot products on 16-float
// GCC vectors (no intrinsics, no call into src/kernels: an independent reference). Tiled over
// tokens so a block of activations stays in cache while a chunk of rows is reused against it.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/matmul.h"
#include "quant/quant_traits.h"

namespace edgefit {
namespace {

constexpr int64_t kRowChunk = 16;  // weight rows dequantized together by one task
constexpr int64_t kTokBlock = 32;  // activation rows kept hot while a chunk of rows sweeps them

// Sixteen floats as one GCC/Clang vector, without intrinsics: one zmm register where AVX-512 is
// on, two ymm with AVX2, four SSE or NEON registers otherwise. Every output keeps one such
// accumulator, summed over the row in steps of 16, then reduced in one fixed tree and finished
// with a scalar tail: the float order depends on n alone, never on the tile shape. Only the
// rounding of multiply-add differs per ISA (the compiler fuses it where FMA exists: AVX2+FMA,
// AVX-512, NEON; not on baseline x86-64), as in the old 4-wide version.
typedef float v16 __attribute__((vector_size(64)));

// Vectors pass by reference: a 64-byte vector by value has a different ABI per ISA (-Wpsabi).
[[gnu::always_inline]] inline void load16(v16& v, const float* p) {
  __builtin_memcpy(&v, p, sizeof v);
}

typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));

// Lane k += lane k + w for w = 8, 4, 2, 1 (one fixed tree), in registers: a sum through a stack
// array cost as much as the short rows' dot products themselves.
[[gnu::always_inline]] inline float hsum(const v16& a) {
  const v8 s8 = __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7) +
                __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
  const v4 s4 =
      __builtin_shufflevector(s8, s8, 0, 1, 2, 3) + __builtin_shufflevector(s8, s8, 4, 5, 6, 7);
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

// The dot products of R weight rows against T activation rows of length n: R × T accumulators,
// each weight and activation load shared by T or R products. y[t * n_out + r] receives row r.
template <int R, int T>
[[gnu::always_inline]] inline void tile(const float* const* w, const float* x, int64_t n, float* y,
                                        int64_t n_out) {
  v16 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = v16{};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    v16 xv[T];
    for (int t = 0; t < T; ++t) load16(xv[t], x + t * n + i);
    for (int r = 0; r < R; ++r) {
      v16 wv;
      load16(wv, w[r] + i);
      for (int t = 0; t < T; ++t) acc[r][t] += wv * xv[t];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      float s = hsum(acc[r][t]);
      for (int64_t k = i; k < n; ++k) s += w[r][k] * x[t * n + k];
      y[t * n_out + r] = s;
    }
}

// Rows w[0, nr) against activation rows [t0, t1): R × T tiles, then the leftover rows and tokens
// one at a time (same float order per output, see v16).
template <int R, int T>
[[gnu::always_inline]] inline void sweep(const float* const* w, int64_t nr, const float* x,
                                         int64_t t0, int64_t t1, int64_t n, float* y,
                                         int64_t n_out) {
  int64_t r = 0;
  for (; r + R <= nr; r += R) {
    int64_t t = t0;
    for (; t + T <= t1; t += T) tile<R, T>(w + r, x + t * n, n, y + t * n_out + r, n_out);
    for (; t < t1; ++t) tile<R, 1>(w + r, x + t * n, n, y + t * n_out + r, n_out);
  }
  for (; r < nr; ++r)
    for (int64_t t = t0; t < t1; ++t) tile<1, 1>(w + r, x + t * n, n, y + t * n_out + r, n_out);
}

// The tile shape per ISA is what fits the register file: 4 × 4 accumulators are 16 of 32 zmm (4 × 2
// measured 15-20 % slower), 2 × 2 are 8 of 16 ymm; baseline SSE/NEON keeps 2 × 1 (8 registers).
// x86-64 gets AVX-512 and AVX2 builds chosen at run time (target attributes, no intrinsics); other
// targets the baseline sweep.
using SweepFn = void (*)(const float* const*, int64_t, const float*, int64_t, int64_t, int64_t,
                         float*, int64_t);

void sweep_base(const float* const* w, int64_t nr, const float* x, int64_t t0, int64_t t1,
                int64_t n, float* y, int64_t n_out) {
  sweep<2, 1>(w, nr, x, t0, t1, n, y, n_out);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx512f"))) void sweep_avx512(const float* const* w, int64_t nr,
                                                     const float* x, int64_t t0, int64_t t1,
                                                     int64_t n, float* y, int64_t n_out) {
  sweep<4, 4>(w, nr, x, t0, t1, n, y, n_out);
}

__attribute__((target("avx2,fma"))) void sweep_avx2(const float* const* w, int64_t nr,
                                                    const float* x, int64_t t0, int64_t t1,
                                                    int64_t n, float* y, int64_t n_out) {
  sweep<2, 2>(w, nr, x, t0, t1, n, y, n_out);
}
#endif

SweepFn pick_sweep() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  const CpuFeatures& cpu = cpu_features();  // the project's one CPUID probe (OS state included)
  if (cpu.avx512f) return sweep_avx512;
  if (cpu.avx2 && cpu.fma) return sweep_avx2;
#endif
  return sweep_base;
}

}  // namespace

bool can_dequantize(DType t) {
  const QuantTraits* q = quant_traits(t);
  return q != nullptr && q->dequantize_row != nullptr;
}

void dequantize_row(const TensorView& w, int64_t row, float* dst) {
  if (w.packing != 0)
    throw Error("dequantize_row: repacked weights are readable by the runtime kernels only");
  const int64_t n = w.row_size();
  const uint8_t* src = w.row(row);
  if (w.dtype == DType::F32) {  // the common case needs no conversion
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
    return;
  }
  // F16, BF16 and every block format: the traits table's converter (bit-exact with ggml).
  const QuantTraits* q = quant_traits(w.dtype);
  if (q == nullptr || q->dequantize_row == nullptr)
    throw Error("cannot dequantize weights of type " + std::string(dtype_name(w.dtype)));
  q->dequantize_row(src, dst, n);
}

void matmul_ref(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
  if (w.packing != 0)
    throw Error("matmul_ref: repacked weights are readable by the runtime kernels only");
  const int64_t n_out = w.ndim >= 2 ? w.shape[0] : 1;
  const int64_t n_in = w.row_size();
  // F32 rows that are 4-byte aligned are used in place; everything else is converted per chunk.
  const bool direct = w.dtype == DType::F32 && reinterpret_cast<uintptr_t>(w.data) % 4 == 0 &&
                      (w.ndim < 2 || w.strides[0] % 4 == 0);
  static const SweepFn sweep_fn = pick_sweep();
  ThreadPool::global().parallel_for(n_out, kRowChunk, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> buf;  // dequantized rows of the current chunk
    std::vector<const float*> rows(static_cast<size_t>(kRowChunk));
    for (int64_t r0 = begin; r0 < end; r0 += kRowChunk) {
      const int64_t nr = std::min(kRowChunk, end - r0);
      if (!direct) {
        buf.resize(static_cast<size_t>(kRowChunk * n_in));
        for (int64_t r = 0; r < nr; ++r) dequantize_row(w, r0 + r, buf.data() + r * n_in);
      }
      for (int64_t r = 0; r < nr; ++r)
        rows[r] = direct ? reinterpret_cast<const float*>(w.row(r0 + r)) : buf.data() + r * n_in;
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokBlock)
        sweep_fn(rows.data(), nr, x, t0, std::min(n_tokens, t0 + kTokBlock), n_in, y + r0, n_out);
    }
  });
}

const kernels::KernelDispatch& kernel_table(const MatmulChoice& choice) {
  return choice.table ? *choice.table : kernels::kernel_dispatch();
}

void matmul(const MatmulChoice& choice, const TensorView& w, const float* x, int64_t n_tokens,
            float* y) {
  if (choice.fn) {
    choice.fn(w, x, n_tokens, y);
    return;
  }
  kernels::matmul_with(kernel_table(choice), w, x, n_tokens, y, nullptr);
}

void matmul_multi(const MatmulChoice& choice, std::span<const TensorView* const> ws, const float* x,
                  int64_t n_tokens, std::span<float* const> ys) {
  if (ws.size() != ys.size()) throw Error("matmul_multi: weights and outputs differ in count");
  if (choice.fn) {
    for (size_t i = 0; i < ws.size(); ++i) choice.fn(*ws[i], x, n_tokens, ys[i]);
    return;
  }
  kernels::matmul_multi_with(kernel_table(choice), ws, x, n_tokens, ys, nullptr);
}

}  // namespace edgefit
