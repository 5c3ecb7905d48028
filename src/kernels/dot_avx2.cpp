// AVX2 + FMA + F16C kernels; this file alone is compiled with those flags and only runs after the
// CPUID check. Same panels as the AVX-512 file (panel.h), taken as two 256-bit halves of 8 lanes;
// vpdpbusd is emulated by maddubs (u8·s8 pairs → int16) + madd with ones (→ int32). Q8_0 weights
// stay signed and use the sign trick (|w| · sign(a, w)), since 255·127·2 would overflow int16.
//
// No std:: templates or core/ inline helpers here (see dot_avx512vnni.cpp for why).
// GCC 12's AVX-512 headers self-initialize "undefined" registers (__Y = __Y), which -Wuninitialized
// reports at every inlined use (GCC bug 105593, fixed in 13): silence it for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "kernels/isa_tables.h"

namespace edgefit::kernels::detail {
namespace {

constexpr int weight_offset(QFormat f) {
  switch (f) {
    case QFormat::kQ4_0:
      return 8;
    case QFormat::kQ6_K:
      return 32;
    default:
      return 0;  // Q8_0 signed; Q4_K/Q5_K levels are already unsigned
  }
}

constexpr int kTileRows = 4;       // weight rows per register tile
constexpr int kTileTokens = 2;     // tokens per register tile (16 ymm registers only)
constexpr int64_t kTokBlock = 64;  // tokens sharing one unpacked 4-row panel

inline __m128i ld128(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
inline __m256i ld2x128(const uint8_t* lo, const uint8_t* hi) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(ld128(lo)), ld128(hi), 1);
}

// In-lane 4×4 dword transpose (see dot_avx512vnni.cpp): z[k] lane i = block 4i+k in, z[d] out.
inline void transpose4(__m256i* z) {
  const __m256i t0 = _mm256_unpacklo_epi32(z[0], z[1]), t1 = _mm256_unpackhi_epi32(z[0], z[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(z[2], z[3]), t3 = _mm256_unpackhi_epi32(z[2], z[3]);
  z[0] = _mm256_unpacklo_epi64(t0, t2);
  z[1] = _mm256_unpackhi_epi64(t0, t2);
  z[2] = _mm256_unpacklo_epi64(t1, t3);
  z[3] = _mm256_unpackhi_epi64(t1, t3);
}

// 16 fp16 scales at a byte stride → w->d; the other parameters of a Q8_0/Q4_0 chunk.
void legacy_params(const uint8_t* b, int stride, WChunk<8>* w) {
  alignas(32) uint16_t h[16];
  for (int i = 0; i < 16; ++i) __builtin_memcpy(&h[i], b + i * stride, 2);
  _mm256_store_ps(w->d, _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h))));
  _mm256_store_ps(w->d + 8,
                  _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h + 8))));
  for (int l = 0; l < kLanes; ++l) {
    w->dmin[l] = 0.f;
    w->sc[l] = 1;
    w->m[l] = 0;
  }
}

// Q8_0 (signed) or Q4_0 (nibbles) full chunk of 16 blocks at b.
template <bool kQ4>
void unpack_legacy(const uint8_t* b, WChunk<8>* w) {
  constexpr int kStride = kQ4 ? 18 : 34;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  for (int h = 0; h < 2; ++h) {  // lanes 8h … 8h+7
    const uint8_t* q = b + 8 * h * kStride + 2;
    __m256i z[4], u[4];
    for (int k = 0; k < 4; ++k) {
      z[k] = ld2x128(q + k * kStride, q + (4 + k) * kStride);
      if (!kQ4) u[k] = ld2x128(q + k * kStride + 16, q + (4 + k) * kStride + 16);
    }
    transpose4(z);
    if (!kQ4) transpose4(u);
    for (int g = 0; g < 4; ++g) {
      auto* lo = reinterpret_cast<__m256i*>(&w->q[g][8 * h][0]);
      auto* hi = reinterpret_cast<__m256i*>(&w->q[g + 4][8 * h][0]);
      if (kQ4) {
        _mm256_store_si256(lo, _mm256_and_si256(z[g], m4));
        _mm256_store_si256(hi, _mm256_and_si256(_mm256_srli_epi16(z[g], 4), m4));
      } else {
        _mm256_store_si256(lo, z[g]);
        _mm256_store_si256(hi, u[g]);
      }
    }
  }
  legacy_params(b, kStride, w);
}

// ggml's 12-byte scale decode: 8 six-bit scales → *sc, 8 six-bit mins → *m (one byte each).
inline void decode_k4_scales(const uint8_t* s, uint64_t* sc, uint64_t* m) {
  uint32_t u[3];
  __builtin_memcpy(u, s, 12);
  const uint32_t k1 = 0x3f3f3f3f, k2 = 0x0f0f0f0f, k3 = 0x03030303;
  *sc = (u[0] & k1) | (uint64_t{(u[2] & k2) | (((u[0] >> 6) & k3) << 4)} << 32);
  *m = (u[1] & k1) | (uint64_t{((u[2] >> 4) & k2) | (((u[1] >> 6) & k3) << 4)} << 32);
}

inline __m256i u8x8_to_i32(uint64_t v) {
  return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(v)));
}

inline float half_at(const uint8_t* p) {
  uint16_t h;
  __builtin_memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// One Q4_K / Q5_K super-block b → lanes 8h … 8h+7 (lane 8h + j = sub-block j = 2k + nibble).
template <bool kQ5>
void unpack_k4_half(const uint8_t* b, int h, WChunk<8>* w) {
  constexpr int kQsOff = kQ5 ? 48 : 16;
  __m256i y[4];
  for (int k = 0; k < 4; ++k)
    y[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + kQsOff + 32 * k));
  transpose4(y);  // 128-bit lane i of y[d] = dword 4i+d of each 32-byte group k = 0..3
  const __m256i dup_lo = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  const __m256i dup_hi = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
  const __m256i nib = _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
  const __m256i bit = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int g = 0; g < 8; ++g) {
    __m256i v = _mm256_permutevar8x32_epi32(y[g % 4], g < 4 ? dup_lo : dup_hi);
    v = _mm256_and_si256(_mm256_srlv_epi32(v, nib), m4);
    if constexpr (kQ5) {  // bit j of qh byte e is the 5th bit of weight e of sub-block j
      __m256i hb = _mm256_permutevar8x32_epi32(qh, _mm256_set1_epi32(g));
      hb = _mm256_and_si256(_mm256_srlv_epi32(hb, bit), _mm256_set1_epi8(1));
      v = _mm256_or_si256(v, _mm256_slli_epi32(hb, 4));
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(&w->q[g][8 * h][0]), v);
  }
  uint64_t sc, m;
  decode_k4_scales(b + 4, &sc, &m);
  _mm256_store_si256(reinterpret_cast<__m256i*>(w->sc + 8 * h), u8x8_to_i32(sc));
  _mm256_store_si256(reinterpret_cast<__m256i*>(w->m + 8 * h), u8x8_to_i32(m));
  _mm256_store_ps(w->d + 8 * h, _mm256_set1_ps(half_at(b)));
  _mm256_store_ps(w->dmin + 8 * h, _mm256_set1_ps(half_at(b + 2)));
}

// Half h of a Q6_K super-block → lanes 8h … 8h+7 (sub-block jj of the half: ql dword
// 4·(jj%4) + g of the half's 64 bytes, nibble jj/4; qh dword 4·(jj%2) + g, bits 2·(jj/2)).
void unpack_q6_k_half(const uint8_t* b, int h, WChunk<4>* w) {
  const __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h));
  const __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h + 32));
  const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h));
  const __m256i idx = _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4);
  const __m256i ns = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4);
  const __m256i hs = _mm256_setr_epi32(0, 0, 2, 2, 4, 4, 6, 6);
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
  for (int g = 0; g < 4; ++g) {
    const __m256i ig = _mm256_add_epi32(idx, _mm256_set1_epi32(g));
    __m256i lo = _mm256_blend_epi32(_mm256_permutevar8x32_epi32(a0, ig),
                                    _mm256_permutevar8x32_epi32(a1, ig), 0xCC);  // jj%4 >= 2
    lo = _mm256_and_si256(_mm256_srlv_epi32(lo, ns), m4);
    __m256i hi = _mm256_and_si256(_mm256_srlv_epi32(_mm256_permutevar8x32_epi32(qh, ig), hs), m2);
    _mm256_store_si256(reinterpret_cast<__m256i*>(&w->q[g][8 * h][0]),
                       _mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)));  // level + 32
  }
  _mm256_store_si256(
      reinterpret_cast<__m256i*>(w->sc + 8 * h),
      _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 192 + 8 * h))));
  _mm256_store_ps(w->d + 8 * h, _mm256_set1_ps(half_at(b + 208)));
  _mm256_store_ps(w->dmin + 8 * h, _mm256_setzero_ps());
  _mm256_store_si256(reinterpret_cast<__m256i*>(w->m + 8 * h), _mm256_setzero_si256());
}

template <QFormat F>
using WChunkOf = WChunk<qformat_info(F).groups>;
template <QFormat F>
using AChunkOf = AChunk<qformat_info(F).groups>;

template <QFormat F>
void unpack_chunk(const uint8_t* row, int64_t n, int64_t c, WChunkOf<F>* w) {
  constexpr QFormatInfo fi = qformat_info(F);
  const bool full = (c + 1) * chunk_elems(F) <= n;
  const uint8_t* b = row + c * (chunk_elems(F) / fi.block_elems) * fi.block_bytes;
  if (!full) {
    unpack_chunk_ref(F, row, n, c, weight_offset(F), w);
  } else if constexpr (F == QFormat::kQ8_0) {
    unpack_legacy<false>(b, w);
  } else if constexpr (F == QFormat::kQ4_0) {
    unpack_legacy<true>(b, w);
  } else if constexpr (F == QFormat::kQ4_K || F == QFormat::kQ5_K) {
    constexpr bool kQ5 = F == QFormat::kQ5_K;
    unpack_k4_half<kQ5>(b, 0, w);
    unpack_k4_half<kQ5>(b + fi.block_bytes, 1, w);
  } else {
    unpack_q6_k_half(b, 0, w);
    unpack_q6_k_half(b, 1, w);
  }
}

inline float hsum(__m256 lo, __m256 hi) {  // reduce16's order
  const __m256 a = _mm256_add_ps(lo, hi);
  const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_movehdup_ps(c)));
}

// Sum of 4 adjacent u8·s8 products per int32 lane (vpdpbusd without VNNI).
template <bool kSigned>
inline __m256i dot4(__m256i w, __m256i a, __m256i ones16) {
  if constexpr (kSigned) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w)),
                             ones16);
  } else {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), ones16);
  }
}

template <QFormat F, int R, int T>
void tile(const WChunkOf<F>* const* wr, const AChunkOf<F>* const* at, int64_t nc, float* y,
          int64_t ys) {
  constexpr QFormatInfo fi = qformat_info(F);
  constexpr bool kOff = weight_offset(F) != 0;
  constexpr bool kSigned = F == QFormat::kQ8_0;
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256 facc[R][T][2];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) facc[r][t][0] = facc[r][t][1] = _mm256_setzero_ps();
  for (int64_t c = 0; c < nc; ++c) {
    for (int h = 0; h < 2; ++h) {  // lanes 8h … 8h+7
      __m256i acc[R][T];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int g = 0; g < fi.groups; ++g) {
        __m256i wv[R];
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          wv[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(&wr[r][c].q[g][8 * h][0]));
        }
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
          const __m256i av =
              _mm256_load_si256(reinterpret_cast<const __m256i*>(&at[t][c].q[g][8 * h][0]));
#pragma GCC unroll 4
          for (int r = 0; r < R; ++r) {
            acc[r][t] = _mm256_add_epi32(acc[r][t], dot4<kSigned>(wv[r], av, ones16));
          }
        }
      }
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m256 ad = _mm256_load_ps(at[t][c].d + 8 * h);
        const __m256i as =
            _mm256_load_si256(reinterpret_cast<const __m256i*>(at[t][c].sum + 8 * h));
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const WChunkOf<F>& wc = wr[r][c];
          __m256i x = acc[r][t];
          if constexpr (kOff) x = _mm256_sub_epi32(x, as);
          if constexpr (fi.has_scale) {
            x = _mm256_mullo_epi32(
                x, _mm256_load_si256(reinterpret_cast<const __m256i*>(wc.sc + 8 * h)));
          }
          __m256& f = facc[r][t][h];
          f = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_load_ps(wc.d + 8 * h), ad),
                              _mm256_cvtepi32_ps(x), f);
          if constexpr (fi.has_min) {
            const __m256i mt = _mm256_mullo_epi32(
                _mm256_load_si256(reinterpret_cast<const __m256i*>(wc.m + 8 * h)), as);
            f = _mm256_fnmadd_ps(_mm256_mul_ps(_mm256_load_ps(wc.dmin + 8 * h), ad),
                                 _mm256_cvtepi32_ps(mt), f);
          }
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[t * ys + r] = hsum(facc[r][t][0], facc[r][t][1]);
}

template <QFormat F, int R>
void tile_rows(int tn, const WChunkOf<F>* const* wr, const AChunkOf<F>* const* at, int64_t nc,
               float* y, int64_t ys) {
  if (tn == 1) {
    tile<F, R, 1>(wr, at, nc, y, ys);
  } else {
    tile<F, R, 2>(wr, at, nc, y, ys);
  }
}

template <QFormat F>
void gemm_q(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
            size_t act_stride, int64_t n_tok, float* y, int64_t ys) {
  using WC = WChunkOf<F>;
  using AC = AChunkOf<F>;
  const int64_t nc = n_chunks(F, n);
  auto* panel = static_cast<WC*>(thread_scratch(kTileRows * nc * sizeof(WC)));
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(act);
  for (int64_t t0 = 0; t0 < n_tok; t0 += kTokBlock) {
    const int64_t t1 = t0 + kTokBlock < n_tok ? t0 + kTokBlock : n_tok;
    for (int64_t r0 = 0; r0 < n_rows; r0 += kTileRows) {
      const int rn = n_rows - r0 < kTileRows ? static_cast<int>(n_rows - r0) : kTileRows;
      const WC* wr[kTileRows];
      for (int r = 0; r < rn; ++r) {
        const uint8_t* row = wb + (r0 + r) * w_stride;
        for (int64_t c = 0; c < nc; ++c) unpack_chunk<F>(row, n, c, panel + r * nc + c);
        wr[r] = panel + r * nc;
      }
      for (int64_t t = t0; t < t1; t += kTileTokens) {
        const int tn = t1 - t < kTileTokens ? static_cast<int>(t1 - t) : kTileTokens;
        const AC* at[kTileTokens];
        for (int i = 0; i < tn; ++i) at[i] = reinterpret_cast<const AC*>(ab + (t + i) * act_stride);
        float* yt = y + t * ys + r0;
        switch (rn) {
          case 1:
            tile_rows<F, 1>(tn, wr, at, nc, yt, ys);
            break;
          case 2:
            tile_rows<F, 2>(tn, wr, at, nc, yt, ys);
            break;
          case 3:
            tile_rows<F, 3>(tn, wr, at, nc, yt, ys);
            break;
          default:
            tile_rows<F, 4>(tn, wr, at, nc, yt, ys);
            break;
        }
      }
    }
  }
}

template <QFormat F>
float vec_dot_q(int64_t n, const void* w, const void* act) {
  float y;
  gemm_q<F>(n, w, 0, 1, act, 0, 1, &y, 1);
  return y;
}

// ---------------------------------------------------------------- float weights

template <DType W>
inline __m256 load_w8(const uint8_t* p) {
  if constexpr (W == DType::F32) return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (W == DType::F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

template <DType W>
constexpr int64_t wsize() {
  return W == DType::F32 ? 4 : 2;
}

// Lanes i mod 16 as two ymm halves (the scalar reference's order); the tail goes through the
// same lanes via a zero-padded copy with a lane mask, so padding never touches a lane.
template <DType W>
float vec_dot_f(int64_t n, const void* w_row, const void* x_row) {
  const auto* w = static_cast<const uint8_t*>(w_row);
  const auto* x = static_cast<const float*>(x_row);
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    lo = _mm256_fmadd_ps(load_w8<W>(w + i * wsize<W>()), _mm256_loadu_ps(x + i), lo);
    hi = _mm256_fmadd_ps(load_w8<W>(w + (i + 8) * wsize<W>()), _mm256_loadu_ps(x + i + 8), hi);
  }
  if (i < n) {
    alignas(32) float acc[16];
    _mm256_store_ps(acc, lo);
    _mm256_store_ps(acc + 8, hi);
    for (int64_t j = i; j < n; ++j) {
      float wf;
      if constexpr (W == DType::F32) {
        __builtin_memcpy(&wf, w + j * 4, 4);
      } else {
        uint16_t h;
        __builtin_memcpy(&h, w + j * 2, 2);
        if constexpr (W == DType::F16) {
          wf = _cvtsh_ss(h);
        } else {
          const uint32_t bits = uint32_t{h} << 16;
          __builtin_memcpy(&wf, &bits, 4);
        }
      }
      acc[j - i] = __builtin_fmaf(wf, x[j], acc[j - i]);
    }
    lo = _mm256_load_ps(acc);
    hi = _mm256_load_ps(acc + 8);
  }
  return hsum(lo, hi);
}

template <DType W>
void gemm_f(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
            size_t act_stride, int64_t n_tok, float* y, int64_t ys) {
  for (int64_t t = 0; t < n_tok; ++t) {
    const void* x = static_cast<const uint8_t*>(act) + t * act_stride;
    for (int64_t r = 0; r < n_rows; ++r) {
      y[t * ys + r] = vec_dot_f<W>(n, static_cast<const uint8_t*>(w) + r * w_stride, x);
    }
  }
}

// Row-interleaved weights (kernels.h: whole groups of 4 rows, widths a multiple of 16): the 4 rows
// of a group side by side, 8 independent FMA chains (vec_dot_f's lo/hi halves per row) over one
// stream, so each result equals vec_dot_f on the row before interleaving bit for bit.
template <DType W>
void gemm_f_x4(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
               size_t act_stride, int64_t n_tok, float* y, int64_t ys) {
  constexpr int64_t kRun = kInterleaveRun * wsize<W>();  // bytes of one row's run
  for (int64_t r0 = 0; r0 < n_rows; r0 += kInterleaveRows) {
    const uint8_t* group = static_cast<const uint8_t*>(w) + r0 * w_stride;
    for (int64_t t = 0; t < n_tok; ++t) {
      const auto* x =
          reinterpret_cast<const float*>(static_cast<const uint8_t*>(act) + t * act_stride);
      __m256 lo[kInterleaveRows], hi[kInterleaveRows];
      for (int r = 0; r < kInterleaveRows; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
      const uint8_t* p = group;
      for (int64_t i = 0; i < n; i += 16, p += kInterleaveRows * kRun) {
        const __m256 xl = _mm256_loadu_ps(x + i), xh = _mm256_loadu_ps(x + i + 8);
#pragma GCC unroll 4
        for (int r = 0; r < kInterleaveRows; ++r) {
          lo[r] = _mm256_fmadd_ps(load_w8<W>(p + r * kRun), xl, lo[r]);
          hi[r] = _mm256_fmadd_ps(load_w8<W>(p + r * kRun + 8 * wsize<W>()), xh, hi[r]);
        }
      }
      for (int r = 0; r < kInterleaveRows; ++r) y[t * ys + r0 + r] = hsum(lo[r], hi[r]);
    }
  }
}

void unpack_any(QFormat f, const void* row, int64_t n, int64_t c, void* out) {
  const auto* r = static_cast<const uint8_t*>(row);
  switch (f) {
    case QFormat::kQ8_0:
      unpack_chunk<QFormat::kQ8_0>(r, n, c, static_cast<WChunk<8>*>(out));
      break;
    case QFormat::kQ4_0:
      unpack_chunk<QFormat::kQ4_0>(r, n, c, static_cast<WChunk<8>*>(out));
      break;
    case QFormat::kQ4_K:
      unpack_chunk<QFormat::kQ4_K>(r, n, c, static_cast<WChunk<8>*>(out));
      break;
    case QFormat::kQ5_K:
      unpack_chunk<QFormat::kQ5_K>(r, n, c, static_cast<WChunk<8>*>(out));
      break;
    case QFormat::kQ6_K:
      unpack_chunk<QFormat::kQ6_K>(r, n, c, static_cast<WChunk<4>*>(out));
      break;
  }
}

template <QFormat F>
constexpr FormatKernels qk(DType wt, DType at, int bs, ActRowBytesFn bytes, PrepareActFn prep) {
  return {wt, at, bs, bytes, prep, vec_dot_q<F>, gemm_q<F>};
}
template <DType W>
constexpr FormatKernels fk() {
  return {W, DType::F32, 1, f32_act_bytes, copy_f32_act, vec_dot_f<W>, gemm_f<W>};
}
template <DType W>
constexpr FormatKernels fk_x4() {  // row-interleaved: gemm only (no row stands alone)
  return {W, DType::F32, kInterleaveRun, f32_act_bytes, copy_f32_act, nullptr, gemm_f_x4<W>};
}

}  // namespace

UnpackChunkFn avx2_unpack() {
  return unpack_any;
}

const KernelDispatch& avx2_dispatch() {
  static const KernelDispatch kd = {
      Isa::kAvx2,
      "avx2",
      qk<QFormat::kQ8_0>(DType::Q8_0, DType::Q8_0, 32, panel_act_bytes_q8_0, prep_panel_q8_0_s1),
      qk<QFormat::kQ4_0>(DType::Q4_0, DType::Q8_0, 32, panel_act_bytes_q8_0, prep_panel_q8_0_s8),
      qk<QFormat::kQ4_K>(DType::Q4_K, DType::Q8_K, 256, panel_act_bytes_k32, prep_panel_k32_s1),
      qk<QFormat::kQ5_K>(DType::Q5_K, DType::Q8_K, 256, panel_act_bytes_k32, prep_panel_k32_s1),
      qk<QFormat::kQ6_K>(DType::Q6_K, DType::Q8_K, 256, panel_act_bytes_k16, prep_panel_k16_s32),
      fk<DType::F16>(),
      fk<DType::BF16>(),
      fk<DType::F32>(),
      // q4_0_x16 … q6_k_x1: no packed kernels on this ISA yet, weights are read as stored.
      {},
      {},
      {},
      {},
      fk_x4<DType::F16>(),
      fk_x4<DType::BF16>(),
      fk_x4<DType::F32>(),
  };
  return kd;
}

}  // namespace edgefit::kernels::detail
