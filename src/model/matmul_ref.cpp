// Reference matmul: dequantize a chunk of weight rows to f32, then plain dot products written so
// the compiler can vectorise them with baseline SIMD (independent lane accumulators). Tiled over
// tokens so a block of activations stays in cache while a chunk of rows is reused against it.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "model/matmul.h"

#if __has_include("quant/quant_traits.h")
#include "quant/quant_traits.h"
#define EDGEFIT_HAVE_QUANT_TRAITS 1
#endif

namespace edgefit {
namespace {

std::atomic<MatmulFn> g_kernel{nullptr};  // installed kernel; nullptr = matmul_ref

constexpr int kLanes = 8;         // independent accumulators per dot product (vectorisable)
constexpr int64_t kRowChunk = 16;  // weight rows dequantized together by one task
constexpr int64_t kTokBlock = 32;  // activation rows kept hot while a chunk of rows sweeps them

// Four dot products of length n sharing one x: rows w0…w3 against x.
inline void dot4(const float* w0, const float* w1, const float* w2, const float* w3,
                 const float* x, int64_t n, float out[4]) {
  float a0[kLanes] = {}, a1[kLanes] = {}, a2[kLanes] = {}, a3[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float xv = x[i + l];
      a0[l] += w0[i + l] * xv;
      a1[l] += w1[i + l] * xv;
      a2[l] += w2[i + l] * xv;
      a3[l] += w3[i + l] * xv;
    }
  }
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (; i < n; ++i) {
    s0 += w0[i] * x[i];
    s1 += w1[i] * x[i];
    s2 += w2[i] * x[i];
    s3 += w3[i] * x[i];
  }
  for (int l = 0; l < kLanes; ++l) {
    s0 += a0[l];
    s1 += a1[l];
    s2 += a2[l];
    s3 += a3[l];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

inline float dot1(const float* w, const float* x, int64_t n) {
  float a[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) a[l] += w[i + l] * x[i + l];
  float s = 0;
  for (; i < n; ++i) s += w[i] * x[i];
  for (int l = 0; l < kLanes; ++l) s += a[l];
  return s;
}

}  // namespace

bool can_dequantize(DType t) {
  if (t == DType::F32 || t == DType::F16 || t == DType::BF16) return true;
#ifdef EDGEFIT_HAVE_QUANT_TRAITS
  const QuantTraits* q = quant_traits(t);
  return q != nullptr && q->dequantize_row != nullptr;
#else
  return false;
#endif
}

void dequantize_row(const TensorView& w, int64_t row, float* dst) {
  const int64_t n = w.row_size();
  const uint8_t* src = w.row(row);
  switch (w.dtype) {
    case DType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = fp16_to_fp32(h);
      }
      return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = bf16_to_fp32(h);
      }
      return;
    default:
      break;
  }
#ifdef EDGEFIT_HAVE_QUANT_TRAITS
  if (const QuantTraits* q = quant_traits(w.dtype); q != nullptr && q->dequantize_row != nullptr) {
    q->dequantize_row(src, dst, n);
    return;
  }
#endif
  throw Error("cannot dequantize weights of type " + std::string(dtype_name(w.dtype)));
}

void matmul_ref(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
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
          for (int64_t t = t0; t < t1; ++t) y[t * n_out + r0 + r] = dot1(rows[r], x + t * n_in, n_in);
      }
    }
  });
}

void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
  const MatmulFn fn = g_kernel.load(std::memory_order_acquire);
  (fn ? fn : matmul_ref)(w, x, n_tokens, y);
}

void set_matmul_kernel(MatmulFn fn) { g_kernel.store(fn, std::memory_order_release); }

}  // namespace edgefit
