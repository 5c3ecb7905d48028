// Reference matmul: dequantize a chunk of weight rows to f32, then plain dot products written so
// the compiler can vectorise them with baseline SIMD (independent lane accumulators). Tiled over
// tokens so a block of activations stays in cache while a chunk of rows is reused against it.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/matmul.h"
#include "quant/quant_traits.h"

namespace edgefit {
namespace {

constexpr int64_t kRowChunk = 16;  // weight rows dequantized together by one task
constexpr int64_t kTokBlock = 32;  // activation rows kept hot while a chunk of rows sweeps them

// Four floats as one GCC/Clang vector: compiles to whatever SIMD the target has (an SSE register
// on baseline x86-64, NEON on ARM), without intrinsics. Loads go through memcpy (any alignment).
typedef float v4 __attribute__((vector_size(16)));

inline v4 load4(const float* p) {
  v4 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

inline float hsum(v4 a, v4 b) {
  const v4 s = a + b;
  return (s[0] + s[2]) + (s[1] + s[3]);
}

// Four dot products of length n sharing one x: rows w0…w3 against x. Two accumulators per row
// hide the add latency.
inline void dot4(const float* w0, const float* w1, const float* w2, const float* w3, const float* x,
                 int64_t n, float out[4]) {
  v4 a0 = {}, b0 = {}, a1 = {}, b1 = {}, a2 = {}, b2 = {}, a3 = {}, b3 = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v4 xa = load4(x + i), xb = load4(x + i + 4);
    a0 += load4(w0 + i) * xa;
    b0 += load4(w0 + i + 4) * xb;
    a1 += load4(w1 + i) * xa;
    b1 += load4(w1 + i + 4) * xb;
    a2 += load4(w2 + i) * xa;
    b2 += load4(w2 + i + 4) * xb;
    a3 += load4(w3 + i) * xa;
    b3 += load4(w3 + i + 4) * xb;
  }
  float s0 = hsum(a0, b0), s1 = hsum(a1, b1), s2 = hsum(a2, b2), s3 = hsum(a3, b3);
  for (; i < n; ++i) {
    s0 += w0[i] * x[i];
    s1 += w1[i] * x[i];
    s2 += w2[i] * x[i];
    s3 += w3[i] * x[i];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

inline float dot1(const float* w, const float* x, int64_t n) {
  v4 a = {}, b = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a += load4(w + i) * load4(x + i);
    b += load4(w + i + 4) * load4(x + i + 4);
  }
  float s = hsum(a, b);
  for (; i < n; ++i) s += w[i] * x[i];
  return s;
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
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokBlock) {
        const int64_t t1 = std::min(n_tokens, t0 + kTokBlock);
        int64_t r = 0;
        for (; r + 4 <= nr; r += 4) {
          for (int64_t t = t0; t < t1; ++t) {
            float out[4];
            dot4(rows[r], rows[r + 1], rows[r + 2], rows[r + 3], x + t * n_in, n_in, out);
            float* yt = y + t * n_out + r0 + r;
            yt[0] = out[0];
            yt[1] = out[1];
            yt[2] = out[2];
            yt[3] = out[3];
          }
        }
        for (; r < nr; ++r)
          for (int64_t t = t0; t < t1; ++t)
            y[t * n_out + r0 + r] = dot1(rows[r], x + t * n_in, n_in);
      }
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
