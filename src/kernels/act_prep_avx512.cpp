// AVX-512 activation preparation: f32 activations → ggml's 8-bit activation blocks (Q8_0, or Q8_K
// for the k-quants), regrouped into panel chunks (panel.h). Byte for byte what the portable
// prepare_act_row writes; tests compare every table's preparation with it.
//
// Why it exists: every matmul quantizes its input on the calling thread before the pool starts,
// so this is serial time. The portable code took 2.1-3.7 µs per 2048 floats (Zen 4), ~6 % of a
// 2048×2048 Q4_0 gemv at 60 GB/s, and decode runs 4-5 preparations per layer.
//
// Compiled with AVX-512 flags and only called after the CPUID check (dispatch.cpp); like
// dot_avx512vnni.cpp it uses no std:: templates or inline helpers from other headers, whose
// AVX-512 copies the linker could pick for code that runs on any CPU.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "kernels/isa_tables.h"

namespace edgefit::kernels::detail {
namespace {

// Quants of 16 values rounded to nearest, ties to even: cvtps2dq in the default rounding mode,
// the same as ggml's _mm256_round_ps and magic-number nearest_int for |v| < 2^22.
inline __m512i round_even16(__m512 v) {
  return _mm512_cvtps_epi32(v);
}

// Writes the 16 int8 quants q (as int32 lanes) as dwords g0 … g0+3 of lane l of chunk a.
template <int G>
inline void put_dwords(AChunk<G>* a, int l, int g0, __m512i q) {
  const __m128i b = _mm512_cvtepi32_epi8(q);  // |q| <= 127: truncation is exact
  _mm_storeu_si32(a->q[g0][l], b);
  _mm_storeu_si32(a->q[g0 + 1][l], _mm_srli_si128(b, 4));
  _mm_storeu_si32(a->q[g0 + 2][l], _mm_srli_si128(b, 8));
  _mm_storeu_si32(a->q[g0 + 3][l], _mm_srli_si128(b, 12));
}

// The fp32 value of fp16(d), rounded to nearest even as fp32_to_fp16 (core/fp16.h) does.
inline float through_fp16(float d) {
  return _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Q8_0 activations (Q8_0 and Q4_0 weights): lane l of chunk c = block 16c + l of 32 values.
// quantize_act_q8_0: amax = max |x|, d = amax / 127, quants round_even(x · 127 / amax).
template <int kSumMul>
void prep_q8_0(const float* x, int64_t n, void* out) {
  auto* a = static_cast<AChunk<8>*>(out);
  const int64_t blocks = n / 32;
  for (int64_t c = 0; 16 * c < blocks; ++c) {
    AChunk<8>* ac = a + c;
    const int64_t left = blocks - 16 * c;
    const int lanes = left < 16 ? static_cast<int>(left) : 16;
    if (lanes < 16) __builtin_memset(ac, 0, sizeof(*ac));  // padding lanes: zero, as the reference
    for (int l = 0; l < lanes; ++l) {
      const float* xb = x + (16 * c + l) * 32;
      const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
      const float id = amax != 0.f ? 127.f / amax : 0.f;
      const __m512i q0 = round_even16(_mm512_mul_ps(v0, _mm512_set1_ps(id)));
      const __m512i q1 = round_even16(_mm512_mul_ps(v1, _mm512_set1_ps(id)));
      put_dwords(ac, l, 0, q0);
      put_dwords(ac, l, 4, q1);
      ac->d[l] = through_fp16(amax / 127.f);
      ac->sum[l] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1)) * kSumMul;
    }
  }
}

// One Q8_K super-block (256 values at x) quantized as quantize_row_q8_k: `max` is the first value
// of the largest magnitude, quants min(127, round_even(x · -127 / max)), d = 1 / (-127 / max).
// Returns d; q[16] receives the quants as int32 lanes, 16 values each.
inline float quantize_q8_k(const float* x, __m512i* q) {
  __m512 m = _mm512_setzero_ps();
  for (int i = 0; i < 16; ++i) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + 16 * i)));
  const float amax = _mm512_reduce_max_ps(m);
  if (amax == 0.f) {
    for (int i = 0; i < 16; ++i) q[i] = _mm512_setzero_si512();
    return 0.f;
  }
  float max = 0.f;
  for (int i = 0; i < 16; ++i) {  // the first index with |x| == amax, as the reference's strict >
    const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * i)),
                                             _mm512_set1_ps(amax), _CMP_EQ_OQ);
    if (hit) {
      max = x[16 * i + __builtin_ctz(hit)];
      break;
    }
  }
  const float iscale = -127.f / max;
  const __m512i top = _mm512_set1_epi32(127);
  for (int i = 0; i < 16; ++i)
    q[i] = _mm512_min_epi32(
        top, round_even16(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * i), _mm512_set1_ps(iscale))));
  return 1.f / iscale;
}

// Q8_K activations for Q4_K / Q5_K weights: two super-blocks per chunk, lane 8s + j = values
// 32j … 32j+31 of super-block s.
template <int kSumMul>
void prep_k32(const float* x, int64_t n, void* out) {
  auto* a = static_cast<AChunk<8>*>(out);
  const int64_t supers = n / 256;
  for (int64_t c = 0; 2 * c < supers; ++c) {
    AChunk<8>* ac = a + c;
    const int halves = supers - 2 * c < 2 ? 1 : 2;
    if (halves < 2) __builtin_memset(ac, 0, sizeof(*ac));
    for (int s = 0; s < halves; ++s) {
      __m512i q[16];
      const float d = quantize_q8_k(x + (2 * c + s) * 256, q);
      for (int j = 0; j < 8; ++j) {
        const int l = 8 * s + j;
        put_dwords(ac, l, 0, q[2 * j]);
        put_dwords(ac, l, 4, q[2 * j + 1]);
        ac->d[l] = d;
        ac->sum[l] = _mm512_reduce_add_epi32(_mm512_add_epi32(q[2 * j], q[2 * j + 1])) * kSumMul;
      }
    }
  }
}

// Q8_K activations for Q6_K weights: one super-block per chunk, lane l = values 16l … 16l+15.
template <int kSumMul>
void prep_k16(const float* x, int64_t n, void* out) {
  auto* a = static_cast<AChunk<4>*>(out);
  for (int64_t c = 0; c < n / 256; ++c) {
    AChunk<4>* ac = a + c;
    __m512i q[16];
    const float d = quantize_q8_k(x + c * 256, q);
    for (int l = 0; l < 16; ++l) {
      put_dwords(ac, l, 0, q[l]);
      ac->d[l] = d;
      ac->sum[l] = _mm512_reduce_add_epi32(q[l]) * kSumMul;
    }
  }
}

}  // namespace

void prep_avx512_q8_0_s8(const float* x, int64_t n, void* out) {
  prep_q8_0<8>(x, n, out);
}
void prep_avx512_q8_0_s128(const float* x, int64_t n, void* out) {
  prep_q8_0<128>(x, n, out);
}
void prep_avx512_k32_s1(const float* x, int64_t n, void* out) {
  prep_k32<1>(x, n, out);
}
void prep_avx512_k16_s32(const float* x, int64_t n, void* out) {
  prep_k16<32>(x, n, out);
}

void prep_avx512_q8_0_s1(const float* x, int64_t n, void* out) {
  prep_q8_0<1>(x, n, out);
}
void prep_avx512_q8_0_s16(const float* x, int64_t n, void* out) {
  prep_q8_0<16>(x, n, out);
}
void prep_avx512_k16_s1(const float* x, int64_t n, void* out) {
  prep_k16<1>(x, n, out);
}
void prep_avx512_k16_s4(const float* x, int64_t n, void* out) {
  prep_k16<4>(x, n, out);
}

}  // namespace edgefit::kernels::detail
