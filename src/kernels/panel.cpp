// Portable code shared by every ISA: ggml's activation quantizers and the reference regrouping of
// weights and activations into panel chunks (panel.h). The SIMD files have faster unpackers for
// full chunks; tests check they write exactly the bytes unpack_chunk_ref writes.
#include "kernels/panel.h"

#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

#include "core/fp16.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "quant/quant_traits.h"

namespace edgefit::kernels {

using quant::BlockQ8_0;
using quant::BlockQ8_K;
using quant::kQK;
using quant::kQK_K;

// Round to nearest, ties to even, for |v| < 2^22: adding 1.5·2^23 leaves the rounded integer in
// the low mantissa bits (the FPU rounds the sum in the default to-nearest-even mode). Same result
// as _mm256_round_ps(_MM_ROUND_NEAREST) in ggml, without a libm call per element.
inline int32_t round_even(float v) {
  const float t = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &t, 4);
  return (i & 0x007fffff) - 0x00400000;
}

void quantize_act_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float m[8] = {};  // 8 running maxima: independent chains the compiler turns into maxps
    for (int j = 0; j < kQK; ++j) {
      const float ax = std::fabs(x[j]);
      m[j % 8] = ax > m[j % 8] ? ax : m[j % 8];
    }
    float amax = 0;
    for (float v : m) amax = v > amax ? v : amax;
    // ggml's AVX2 quantize_row_q8_0: the inverse is 127/amax (not 1/d) and rounding is
    // _mm256_round_ps(_MM_ROUND_NEAREST), i.e. half to even.
    const float d = amax / 127.f;
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    y[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) y[b].qs[j] = static_cast<int8_t>(round_even(x[j] * id));
  }
}

void quantize_act_q8_k(const float* x, BlockQ8_K* y, int64_t n) {
  // ggml-cpu's quantize_row_q8_K is its reference on x86 and ARM; src/quant has it bit-exact.
  quant_traits(DType::Q8_K)->quantize_row(x, y, n, nullptr);
}

namespace detail {

namespace {

template <int G>
void zero_chunk(WChunk<G>* w) {
  std::memset(w, 0, sizeof(*w));
  for (int l = 0; l < kLanes; ++l) w->sc[l] = 1;
}

// Stores lane l's levels (lane_len of them) into the chunk, offset as u8.
template <int G>
void put_lane(WChunk<G>* w, int l, const int* levels, int offset) {
  for (int g = 0; g < G; ++g) {
    for (int i = 0; i < 4; ++i) w->q[g][l][i] = static_cast<uint8_t>(levels[4 * g + i] + offset);
  }
}

inline float fp16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

// Reads lane by lane straight from the block bytes (layouts in quant/block_formats.h).
template <int G>
void unpack_chunk(QFormat f, const uint8_t* row, int64_t n, int64_t c, int offset, WChunk<G>* w) {
  const QFormatInfo fi = qformat_info(f);
  zero_chunk(w);
  int lv[32];
  for (int l = 0; l < kLanes; ++l) {
    const int64_t first = c * chunk_elems(f) + int64_t{l} * fi.lane_len;  // first weight of lane
    if (first >= n) break;
    const uint8_t* bp = row + first / fi.block_elems * fi.block_bytes;
    const int sub = static_cast<int>(first % fi.block_elems) / fi.lane_len;
    switch (f) {
      case QFormat::kQ8_0:
        for (int i = 0; i < 32; ++i) lv[i] = static_cast<int8_t>(bp[2 + i]);
        w->d[l] = fp16_at(bp);
        break;
      case QFormat::kQ4_0:
        for (int i = 0; i < 16; ++i) {
          lv[i] = (bp[2 + i] & 0xF) - 8;
          lv[i + 16] = (bp[2 + i] >> 4) - 8;
        }
        w->d[l] = fp16_at(bp);
        break;
      case QFormat::kQ4_K:
      case QFormat::kQ5_K: {
        const bool q5 = f == QFormat::kQ5_K;
        const uint8_t* qs = bp + (q5 ? 48 : 16) + 32 * (sub / 2);  // this sub-block's nibbles
        const int shift = 4 * (sub % 2);
        for (int i = 0; i < 32; ++i) {
          lv[i] = (qs[i] >> shift) & 0xF;
          if (q5) lv[i] |= ((bp[16 + i] >> sub) & 1) << 4;  // qh: bit `sub` of byte i
        }
        int sc, m;
        scale_min_k4(sub, bp + 4, &sc, &m);
        w->d[l] = fp16_at(bp);
        w->dmin[l] = fp16_at(bp + 2);
        w->sc[l] = sc;
        w->m[l] = m;
        break;
      }
      case QFormat::kQ4_1:
      case QFormat::kQ5_1: {
        const bool q5 = f == QFormat::kQ5_1;
        const uint8_t* qs = bp + (q5 ? 8 : 4);
        for (int i = 0; i < 16; ++i) {
          lv[i] = qs[i] & 0xF;
          lv[i + 16] = qs[i] >> 4;
        }
        if (q5)
          for (int i = 0; i < 32; ++i) lv[i] |= ((bp[4 + i / 8] >> (i % 8)) & 1) << 4;
        w->d[l] = fp16_at(bp);
        w->dmin[l] = fp16_at(bp + 2);  // the block min, added: m = -1
        w->m[l] = -1;
        break;
      }
      case QFormat::kQ5_0:
        for (int i = 0; i < 16; ++i) {
          lv[i] = bp[6 + i] & 0xF;
          lv[i + 16] = bp[6 + i] >> 4;
        }
        for (int i = 0; i < 32; ++i) lv[i] = (lv[i] | (((bp[2 + i / 8] >> (i % 8)) & 1) << 4)) - 16;
        w->d[l] = fp16_at(bp);
        break;
      case QFormat::kIQ4_NL:
        for (int i = 0; i < 16; ++i) {
          lv[i] = quant::kIQ4NLValues[bp[2 + i] & 0xF];
          lv[i + 16] = quant::kIQ4NLValues[bp[2 + i] >> 4];
        }
        w->d[l] = fp16_at(bp);
        break;
      case QFormat::kQ2_K:
      case QFormat::kQ3_K: {
        // Sub-block `sub` = weights 16·sub … 16·sub+15: qs bytes 32·(sub/8) + 16·(sub%2) + i,
        // bits 2·((sub%8)/2); Q3_K's high bits: hmask bytes 16·(sub%2) + i, bit sub/2.
        const bool q3 = f == QFormat::kQ3_K;
        const uint8_t* qs = bp + (q3 ? 32 : 16) + 32 * (sub / 8) + 16 * (sub % 2);
        const int shift = 2 * ((sub % 8) / 2);
        for (int i = 0; i < 16; ++i) lv[i] = (qs[i] >> shift) & 3;
        if (q3) {
          const uint8_t* hm = bp + 16 * (sub % 2);
          for (int i = 0; i < 16; ++i) lv[i] -= ((hm[i] >> (sub / 2)) & 1) ? 0 : 4;
          w->d[l] = fp16_at(bp + 108);
          w->sc[l] = scale_q3_k(bp + 96, sub);
        } else {
          w->d[l] = fp16_at(bp + 80);
          w->dmin[l] = fp16_at(bp + 82);
          w->sc[l] = bp[sub] & 0xF;
          w->m[l] = bp[sub] >> 4;
        }
        break;
      }
      case QFormat::kQ6_K: {
        // Sub-block jj of half h: ql bytes 64h + 32·((jj/2)&1) + 16·(jj%2) + i, nibble jj/4;
        // qh bytes 128 + 32h + 16·(jj%2) + i, bits 2·(jj/2).
        const int h = sub / 8, jj = sub % 8;
        const uint8_t* ql = bp + 64 * h + 32 * ((jj / 2) & 1) + 16 * (jj % 2);
        const uint8_t* qh = bp + 128 + 32 * h + 16 * (jj % 2);
        const int ns = 4 * (jj / 4), hs = 2 * (jj / 2);
        for (int i = 0; i < 16; ++i)
          lv[i] = (((ql[i] >> ns) & 0xF) | (((qh[i] >> hs) & 3) << 4)) - 32;
        w->d[l] = fp16_at(bp + 208);
        w->sc[l] = static_cast<int8_t>(bp[192 + sub]);
        break;
      }
    }
    put_lane(w, l, lv, offset);
  }
}

}  // namespace

void unpack_chunk_ref(QFormat f, const void* row, int64_t n, int64_t c, int offset, void* out) {
  const auto* r = static_cast<const uint8_t*>(row);
  if (qformat_info(f).groups == 8) {
    unpack_chunk<8>(f, r, n, c, offset, static_cast<WChunk<8>*>(out));
  } else {
    unpack_chunk<4>(f, r, n, c, offset, static_cast<WChunk<4>*>(out));
  }
}

void unpack_row_ref(QFormat f, const void* row, int64_t n, int offset, void* out) {
  const size_t bytes = qformat_info(f).groups == 8 ? sizeof(WChunk<8>) : sizeof(WChunk<4>);
  for (int64_t c = 0; c < n_chunks(f, n); ++c) {
    unpack_chunk_ref(f, row, n, c, offset, static_cast<uint8_t*>(out) + c * bytes);
  }
}

size_t act_row_bytes(QFormat f, int64_t n) {
  const size_t bytes = qformat_info(f).groups == 8 ? sizeof(AChunk<8>) : sizeof(AChunk<4>);
  return static_cast<size_t>(n_chunks(f, n)) * bytes;
}

namespace {

template <int G>
void put_act_lane(AChunk<G>* a, int l, const int8_t* qs, float d, int sum_mul) {
  int sum = 0;
  for (int i = 0; i < 4 * G; ++i) sum += qs[i];
  for (int g = 0; g < G; ++g) std::memcpy(a->q[g][l], qs + 4 * g, 4);
  a->d[l] = d;
  a->sum[l] = sum * sum_mul;
}

}  // namespace

void prepare_act_row(QFormat f, const float* x, int64_t n, int sum_mul, void* out) {
  const int64_t nc = n_chunks(f, n);
  const QFormatInfo fi = qformat_info(f);
  if (fi.block_elems == kQK) {  // the 32-weight formats: Q8_0 blocks, lane l = block 16c + l
    auto* a = static_cast<AChunk<8>*>(out);
    for (int64_t c = 0; c < nc; ++c) {
      std::memset(&a[c], 0, sizeof(a[c]));
      for (int l = 0; l < kLanes; ++l) {
        const int64_t first = c * 512 + l * 32;
        if (first >= n) break;
        BlockQ8_0 b;
        quantize_act_q8_0(x + first, &b, kQK);
        put_act_lane(&a[c], l, b.qs, fp16_to_fp32(b.d), sum_mul);
      }
    }
    return;
  }
  BlockQ8_K b;
  if (fi.lane_len == 16) {  // Q2_K, Q3_K, Q6_K: one super-block per chunk, 16 lanes of 16
    auto* a = static_cast<AChunk<4>*>(out);
    for (int64_t c = 0; c < nc; ++c) {
      quantize_act_q8_k(x + c * kQK_K, &b, kQK_K);
      for (int l = 0; l < kLanes; ++l) put_act_lane(&a[c], l, b.qs + 16 * l, b.d, sum_mul);
    }
    return;
  }
  auto* a = static_cast<AChunk<8>*>(out);  // Q4_K, Q5_K: two super-blocks per chunk
  for (int64_t c = 0; c < nc; ++c) {
    std::memset(&a[c], 0, sizeof(a[c]));
    for (int s = 0; s < 2 && (2 * c + s) * kQK_K < n; ++s) {
      quantize_act_q8_k(x + (2 * c + s) * kQK_K, &b, kQK_K);
      for (int j = 0; j < 8; ++j) put_act_lane(&a[c], 8 * s + j, b.qs + 32 * j, b.d, sum_mul);
    }
  }
}

void prep_panel_q8_0_s1(const float* x, int64_t n, void* out) {
  prepare_act_row(QFormat::kQ8_0, x, n, 1, out);
}
void prep_panel_q8_0_s8(const float* x, int64_t n, void* out) {
  prepare_act_row(QFormat::kQ8_0, x, n, 8, out);
}
void prep_panel_q8_0_s128(const float* x, int64_t n, void* out) {
  prepare_act_row(QFormat::kQ8_0, x, n, 128, out);
}
void prep_panel_k32_s1(const float* x, int64_t n, void* out) {
  prepare_act_row(QFormat::kQ4_K, x, n, 1, out);
}
void prep_panel_k16_s1(const float* x, int64_t n, void* out) {
  prepare_act_row(QFormat::kQ6_K, x, n, 1, out);
}
void prep_panel_k16_s32(const float* x, int64_t n, void* out) {
  prepare_act_row(QFormat::kQ6_K, x, n, 32, out);
}
size_t panel_act_bytes_q8_0(int64_t n) {
  return act_row_bytes(QFormat::kQ8_0, n);
}
size_t panel_act_bytes_k32(int64_t n) {
  return act_row_bytes(QFormat::kQ4_K, n);
}
size_t panel_act_bytes_k16(int64_t n) {
  return act_row_bytes(QFormat::kQ6_K, n);
}

void* thread_scratch(size_t bytes, ScratchSlot slot) {
  struct Buf {
    std::unique_ptr<std::byte[], void (*)(std::byte*)> p{
        nullptr, [](std::byte* q) { ::operator delete[](q, std::align_val_t{64}); }};
    size_t size = 0;
  };
  thread_local Buf bufs[2];
  Buf& buf = bufs[static_cast<int>(slot)];
  if (buf.size < bytes) {
    buf.p.reset(static_cast<std::byte*>(::operator new[](bytes, std::align_val_t{64})));
    buf.size = bytes;
  }
  return buf.p.get();
}

}  // namespace detail
}  // namespace edgefit::kernels
