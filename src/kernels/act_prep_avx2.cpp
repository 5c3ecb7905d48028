// AVX2 activation preparation for the AVX2 and AVX-VNNI tables: f32 activations → ggml's 8-bit
// activation blocks (Q8_0, or Q8_K for the k-quants), regrouped into panel chunks (panel.h). Byte
// for byte what the portable prepare_act_row writes (tests compare every table's preparation with
// it); act_prep_avx512.cpp is the same algorithm on 16 lanes.
//
// Why: every matmul quantizes its input on the calling thread before the pool starts, 4-5 times per
// decoded layer. The portable code takes 2-4 µs per 2048 floats.
//
// Compiled with AVX2 + F16C flags and only called after the CPUID check (dispatch.cpp); no std::
// templates or inline helpers from other headers (see dot_avx512vnni.cpp for why).
#include <immintrin.h>

#include "kernels/isa_tables.h"

namespace edgefit::kernels::detail {
namespace {

inline __m256 abs8(__m256 v) {
  return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}

inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline int hsum8(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// Quants of 8 values rounded to nearest, ties to even (cvtps2dq in the default rounding mode, as
// the portable round_even / nearest_int for |v| < 2^22).
inline __m256i round_even8(__m256 v) {
  return _mm256_cvtps_epi32(v);
}

// 32 int32 quants (|q| <= 127) in q[0..3] → 32 int8 in order.
inline __m256i pack32(const __m256i* q) {
  const __m256i p =
      _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
  // packs works per 128-bit lane: dwords come out as q0a q1a q2a q3a | q0b q1b q2b q3b.
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Writes dwords 0..k-1 of b (k = 8 or 4) as groups g0 … of lane l of chunk a.
template <int G>
inline void put_dwords(AChunk<G>* a, int l, __m256i b, int k) {
  alignas(32) int32_t d[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(d), b);
  for (int g = 0; g < k; ++g) __builtin_memcpy(a->q[g][l], &d[g], 4);
}

// The fp32 value of fp16(d), rounded to nearest even as fp32_to_fp16 (core/fp16.h) does.
inline float through_fp16(float d) {
  return _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Q8_0 activations (Q8_0 and Q4_0 weights): lane l of chunk c = block 16c + l of 32 values.
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
      __m256 v[4];
      __m256 m = _mm256_setzero_ps();
      for (int k = 0; k < 4; ++k) {
        v[k] = _mm256_loadu_ps(xb + 8 * k);
        m = _mm256_max_ps(m, abs8(v[k]));
      }
      const float amax = hmax8(m);
      const float id = amax != 0.f ? 127.f / amax : 0.f;
      __m256i q[4];
      __m256i sum = _mm256_setzero_si256();
      for (int k = 0; k < 4; ++k) {
        q[k] = round_even8(_mm256_mul_ps(v[k], _mm256_set1_ps(id)));
        sum = _mm256_add_epi32(sum, q[k]);
      }
      put_dwords(ac, l, pack32(q), 8);
      ac->d[l] = through_fp16(amax / 127.f);
      ac->sum[l] = hsum8(sum) * kSumMul;
    }
  }
}

// One Q8_K super-block (256 values at x) as quantize_row_q8_k: `max` is the first value of the
// largest magnitude, quants min(127, round_even(x · -127 / max)), d = 1 / (-127 / max). Returns
// d; q[32] receives the quants as int32, 8 per vector.
inline float quantize_q8_k(const float* x, __m256i* q) {
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < 32; ++i) m = _mm256_max_ps(m, abs8(_mm256_loadu_ps(x + 8 * i)));
  const float amax = hmax8(m);
  if (amax == 0.f) {
    for (int i = 0; i < 32; ++i) q[i] = _mm256_setzero_si256();
    return 0.f;
  }
  float max = 0.f;
  for (int i = 0; i < 32; ++i) {  // the first index with |x| == amax, as the reference's strict >
    const int hit = _mm256_movemask_ps(
        _mm256_cmp_ps(abs8(_mm256_loadu_ps(x + 8 * i)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
    if (hit) {
      max = x[8 * i + __builtin_ctz(static_cast<unsigned>(hit))];
      break;
    }
  }
  const float iscale = -127.f / max;
  const __m256i top = _mm256_set1_epi32(127);
  for (int i = 0; i < 32; ++i)
    q[i] = _mm256_min_epi32(
        top, round_even8(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * i), _mm256_set1_ps(iscale))));
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
      __m256i q[32];
      const float d = quantize_q8_k(x + (2 * c + s) * 256, q);
      for (int j = 0; j < 8; ++j) {
        const int l = 8 * s + j;
        const __m256i* qj = q + 4 * j;
        put_dwords(ac, l, pack32(qj), 8);
        ac->d[l] = d;
        const __m256i sum =
            _mm256_add_epi32(_mm256_add_epi32(qj[0], qj[1]), _mm256_add_epi32(qj[2], qj[3]));
        ac->sum[l] = hsum8(sum) * kSumMul;
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
    __m256i q[32];
    const float d = quantize_q8_k(x + c * 256, q);
    for (int p = 0; p < 8; ++p) {  // lanes 2p and 2p+1: quants 32p … 32p+31
      const __m256i b = pack32(q + 4 * p);
      alignas(32) int32_t dw[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(dw), b);
      for (int g = 0; g < 4; ++g) {
        __builtin_memcpy(ac->q[g][2 * p], &dw[g], 4);
        __builtin_memcpy(ac->q[g][2 * p + 1], &dw[4 + g], 4);
      }
      ac->d[2 * p] = ac->d[2 * p + 1] = d;
      ac->sum[2 * p] = hsum8(_mm256_add_epi32(q[4 * p], q[4 * p + 1])) * kSumMul;
      ac->sum[2 * p + 1] = hsum8(_mm256_add_epi32(q[4 * p + 2], q[4 * p + 3])) * kSumMul;
    }
  }
}

}  // namespace

void prep_avx2_q8_0_s1(const float* x, int64_t n, void* out) {
  prep_q8_0<1>(x, n, out);
}
void prep_avx2_q8_0_s8(const float* x, int64_t n, void* out) {
  prep_q8_0<8>(x, n, out);
}
void prep_avx2_k32_s1(const float* x, int64_t n, void* out) {
  prep_k32<1>(x, n, out);
}
void prep_avx2_k16_s32(const float* x, int64_t n, void* out) {
  prep_k16<32>(x, n, out);
}

void prep_avx2_q8_0_s16(const float* x, int64_t n, void* out) {
  prep_q8_0<16>(x, n, out);
}
void prep_avx2_k16_s1(const float* x, int64_t n, void* out) {
  prep_k16<1>(x, n, out);
}
void prep_avx2_k16_s4(const float* x, int64_t n, void* out) {
  prep_k16<4>(x, n, out);
}

}  // namespace edgefit::kernels::detail
