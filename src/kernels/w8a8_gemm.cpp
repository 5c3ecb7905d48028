// W8A8 kernels (see w8a8_gemm.h). The SIMD paths use the sign trick:
// |x| (unsigned) × (w with x's sign) gives x·w with an unsigned × signed instruction; with both
// operands in [−127, 127] a pair sum stays within int16 (maddubs) and the int32 sums are exact.
#include "kernels/w8a8_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define EDGEFIT_W8A8_X86 1
#endif

namespace edgefit {
namespace {

int32_t dot_scalar(const int8_t* a, const int8_t* b, int64_t k) {
  int32_t s = 0;
  for (int64_t i = 0; i < k; ++i) s += static_cast<int32_t>(a[i]) * b[i];
  return s;
}

#ifdef EDGEFIT_W8A8_X86
__attribute__((target("avx2"))) int32_t dot_avx2(const int8_t* a, const int8_t* b, int64_t k) {
  __m256i acc = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    const __m256i ua = _mm256_sign_epi8(va, va);  // |a|
    const __m256i sb = _mm256_sign_epi8(vb, va);  // b · sign(a)
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(ua, sb), ones));
  }
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s) + dot_scalar(a + i, b + i, k - i);
}

__attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni"))) int32_t dot_vnni(
    const int8_t* a, const int8_t* b, int64_t k) {
  __m512i acc = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + 64 <= k; i += 64) {
    const __m512i va = _mm512_loadu_si512(a + i);
    const __m512i vb = _mm512_loadu_si512(b + i);
    const __m512i ua = _mm512_abs_epi8(va);
    // b · sign(a): negate b where a < 0, zero it where a == 0 (|a| = 0 there anyway).
    const __mmask64 neg = _mm512_movepi8_mask(va);
    const __m512i sb = _mm512_mask_sub_epi8(vb, neg, _mm512_setzero_si512(), vb);
    acc = _mm512_dpbusd_epi32(acc, ua, sb);
  }
  // Store and add rather than _mm512_reduce_add_epi32 (GCC 12 warns inside its extract).
  int32_t lanes[16];
  _mm512_storeu_si512(lanes, acc);
  int32_t s = 0;
  for (int32_t v : lanes) s += v;
  return s + dot_avx2(a + i, b + i, k - i);
}
#endif

}  // namespace

bool w8a8_isa_supported(W8A8Isa isa) {
  switch (isa) {
    case W8A8Isa::kScalar:
      return true;
#ifdef EDGEFIT_W8A8_X86
    case W8A8Isa::kAvx2:
      return cpu_features().avx2;
    case W8A8Isa::kAvx512Vnni: {
      const CpuFeatures& cpu = cpu_features();
      return cpu.avx512vnni && cpu.avx512bw && cpu.avx512vl && cpu.avx2;
    }
#endif
    default:
      return false;
  }
}

W8A8Isa w8a8_best_isa() {
  static const W8A8Isa best = [] {
    const char* env = std::getenv("EDGEFIT_ISA");
    if (env && std::strcmp(env, "scalar") == 0) return W8A8Isa::kScalar;
    if (w8a8_isa_supported(W8A8Isa::kAvx512Vnni)) return W8A8Isa::kAvx512Vnni;
    if (w8a8_isa_supported(W8A8Isa::kAvx2)) return W8A8Isa::kAvx2;
    return W8A8Isa::kScalar;
  }();
  return best;
}

W8A8Isa w8a8_isa_for(const kernels::KernelDispatch& kd) {
  switch (kd.isa) {
    case kernels::Isa::kAvx512Vnni:
      return W8A8Isa::kAvx512Vnni;
    case kernels::Isa::kAvx2:
    case kernels::Isa::kAvxVnni:
      return W8A8Isa::kAvx2;
    default:
      return W8A8Isa::kScalar;
  }
}

const char* w8a8_isa_name(W8A8Isa isa) {
  switch (isa) {
    case W8A8Isa::kScalar:
      return "scalar";
    case W8A8Isa::kAvx2:
      return "avx2";
    case W8A8Isa::kAvx512Vnni:
      return "avx512vnni";
  }
  return "?";
}

int32_t dot_i8(const int8_t* a, const int8_t* b, int64_t k, W8A8Isa isa) {
#ifdef EDGEFIT_W8A8_X86
  if (isa == W8A8Isa::kAvx512Vnni) return dot_vnni(a, b, k);
  if (isa == W8A8Isa::kAvx2) return dot_avx2(a, b, k);
#endif
  (void)isa;
  return dot_scalar(a, b, k);
}

void quantize_activations_int8(const float* x, int64_t n, int64_t k, int8_t* xq, float* sx) {
  for (int64_t t = 0; t < n; ++t) {
    const float* row = x + t * k;
    float amax = 0;
    for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(row[i]));
    const float d = amax / 127.f;
    sx[t] = d;
    const float id = d > 0 ? 1.f / d : 0.f;
    for (int64_t i = 0; i < k; ++i)
      xq[t * k + i] = static_cast<int8_t>(std::clamp(std::nearbyint(row[i] * id), -127.f, 127.f));
  }
}

namespace {

void rows_product(const int8_t* w, const float* w_scale, int64_t r0, int64_t r1, int64_t k,
                  const int8_t* xq, const float* sx, int64_t n, float* y, int64_t n_out,
                  W8A8Isa isa) {
  for (int64_t o = r0; o < r1; ++o)
    for (int64_t t = 0; t < n; ++t)
      y[t * n_out + o] =
          static_cast<float>(dot_i8(xq + t * k, w + o * k, k, isa)) * (sx[t] * w_scale[o]);
}

}  // namespace

void w8a8_matmul_isa(const int8_t* w, const float* w_scale, int64_t n_out, int64_t n_in,
                     const float* x, int64_t n_tokens, float* y, W8A8Isa isa) {
  std::vector<int8_t> xq(static_cast<size_t>(n_tokens * n_in));
  std::vector<float> sx(static_cast<size_t>(n_tokens));
  quantize_activations_int8(x, n_tokens, n_in, xq.data(), sx.data());
  rows_product(w, w_scale, 0, n_out, n_in, xq.data(), sx.data(), n_tokens, y, n_out, isa);
}

void w8a8_matmul(const int8_t* w, const float* w_scale, int64_t n_out, int64_t n_in, const float* x,
                 int64_t n_tokens, float* y, W8A8Isa isa) {
  std::vector<int8_t> xq(static_cast<size_t>(n_tokens * n_in));
  std::vector<float> sx(static_cast<size_t>(n_tokens));
  quantize_activations_int8(x, n_tokens, n_in, xq.data(), sx.data());
  ThreadPool::global().parallel_for(n_out, 16, [&](int64_t b, int64_t e) {
    rows_product(w, w_scale, b, e, n_in, xq.data(), sx.data(), n_tokens, y, n_out, isa);
  });
}

}  // namespace edgefit
