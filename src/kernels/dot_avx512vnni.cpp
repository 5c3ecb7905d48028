// AVX-512 (F, BW, VL, VNNI) kernels; this file alone is compiled with those flags and only runs
// after the CPUID check. Integer formats run on panels (panel.h): one 512-bit vpdpbusd per group
// adds 4 byte products into each of 16 lanes, one lane per sub-block, so a chunk of 16 sub-blocks
// needs G vpdpbusd and no horizontal sums. Weight levels are stored as u8 (level + offset), the
// activations as s8; the offset comes back out through the prepared activation sums.
//
// No std:: templates or core/ inline helpers are used here: an out-of-line copy compiled with
// AVX-512 flags could be picked by the linker for code that runs on any CPU.
// GCC 12's AVX-512 headers self-initialize "undefined" registers (__Y = __Y), which -Wuninitialized
// reports at every inlined use (GCC bug 105593, fixed in 13): silence it for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>

#include "kernels/isa_tables.h"
#include "kernels/prefetch.h"

namespace edgefit::kernels::detail {
namespace {

// Offset added to each weight level so the u8 operand of vpdpbusd can hold it.
constexpr int weight_offset(QFormat f) {
  return weight_offset_for(WeightOperand::kVpdpbusd, f);
}

constexpr int kTileRows = 4;        // weight rows per register tile (each its own vpdpbusd operand)
constexpr int kTileTokens = 3;      // tokens per register tile: 4×3 int + 4×3 float accumulators
constexpr int64_t kTokBlock = 64;   // float gemm: tokens per block (whole 4-token tiles)
constexpr int64_t kPanelRows = 64;  // rows unpacked at once: a matmul task (matmul.cpp)

// Tokens per block of the quantized gemm, whose activations stay in L2 while the panel's rows
// walk them: a whole number of register tiles, so a 512-token prompt has one partial tile (8
// blocks of 63, then 3 + 3 + 2) instead of a 1-token tile per 64-token block (tile<Q4_K, 4, 1>:
// ~3 % of the Q4_K tile samples for 1/64 of the tokens).
constexpr int64_t kQTokBlock = 21 * kTileTokens;

inline __m128i ld128(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// 128-bit lane i of the result = 16 bytes at p[i].
inline __m512i load4x128(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2,
                         const uint8_t* p3) {
  __m512i z = _mm512_castsi128_si512(ld128(p0));
  z = _mm512_inserti32x4(z, ld128(p1), 1);
  z = _mm512_inserti32x4(z, ld128(p2), 2);
  return _mm512_inserti32x4(z, ld128(p3), 3);
}

// 4×4 dword transpose inside each 128-bit lane: afterwards z[d] dword k of lane i = old z[k]
// dword d of lane i. With z[k] lane i = block 4i+k, z[d] position 4i+k = dword d of block 4i+k.
inline void transpose4(__m512i* z) {
  const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
  const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
  z[0] = _mm512_unpacklo_epi64(t0, t2);
  z[1] = _mm512_unpackhi_epi64(t0, t2);
  z[2] = _mm512_unpacklo_epi64(t1, t3);
  z[3] = _mm512_unpackhi_epi64(t1, t3);
}

// Word permute indices picking the fp16 scale of block i (at byte S·i) out of the 128-byte
// window [128·P, 128·P + 128) of a chunk; `mask` marks the blocks whose scale lies in the window.
template <int S, int P>
struct ScaleWindow {
  alignas(64) uint16_t idx[32] = {};  // word index within the window, per result lane
  uint32_t mask = 0;                  // result lanes taken from this window
  constexpr ScaleWindow() {
    for (int i = 0; i < 16; ++i) {
      const int word = i * S / 2;
      if (word >= 64 * P && word < 64 * P + 64) {
        idx[i] = static_cast<uint16_t>(word - 64 * P);
        mask |= 1u << i;
      }
    }
  }
};

// 64 bytes at p of which only `avail` may be read (a masked load never touches the others).
inline __m512i load_upto(const uint8_t* p, int avail) {
  if (avail >= 64) return _mm512_loadu_si512(p);
  if (avail <= 0) return _mm512_setzero_si512();
  return _mm512_maskz_loadu_epi8((~0ull) >> (64 - avail), p);
}

// Off: the fp16 field's offset within the block (2: Q4_1/Q5_1's min); the loads stop at the
// chunk's end.
template <int S, int P, int Off = 0>
inline __m512i scales_from_window(const uint8_t* b, __m512i acc) {
  static constexpr ScaleWindow<S, P> kW;
  const __m512i lo = load_upto(b + Off + 128 * P, 16 * S - Off - 128 * P);
  const __m512i hi = load_upto(b + Off + 128 * P + 64, 16 * S - Off - 128 * P - 64);
  const __m512i v = _mm512_permutex2var_epi16(lo, _mm512_load_si512(kW.idx), hi);
  return _mm512_mask_mov_epi16(acc, kW.mask, v);
}

// The fp16 fields at byte Off (the scale: 0) of 16 consecutive S-byte blocks at b, as floats.
// Two-table word permutes over the chunk's bytes: much cheaper than a 16-lane gather.
template <int S, int Off = 0>
inline __m512 chunk_scales(const uint8_t* b) {
  __m512i w = _mm512_setzero_si512();
  w = scales_from_window<S, 0, Off>(b, w);
  w = scales_from_window<S, 1, Off>(b, w);
  w = scales_from_window<S, 2, Off>(b, w);
  if constexpr (15 * S >= 384) w = scales_from_window<S, 3, Off>(b, w);
  return _mm512_cvtph_ps(_mm512_castsi512_si256(w));
}

// Lanes 0-7 = fp16 a, lanes 8-15 = fp16 b.
inline __m512 two_halves(const uint8_t* a, const uint8_t* b) {
  uint16_t ha, hb;
  __builtin_memcpy(&ha, a, 2);
  __builtin_memcpy(&hb, b, 2);
  const __m256i h = _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(hb)),
                                     _mm_set1_epi16(static_cast<short>(ha)));
  return _mm512_cvtph_ps(h);
}

// One chunk of weights in registers: what WChunk holds in memory.
template <int G>
struct WRegs {
  __m512i q[G];  // group g: weights 4g..4g+3 of each lane's sub-block, level + offset as u8
  __m512 d;      // lane scales
  __m512 dmin;   // lane min scales (Q4_K, Q5_K)
  __m512i sc;    // lane integer scales (k-quants)
  __m512i m;     // lane integer mins (Q4_K, Q5_K)
};

template <int G>
inline void set_params(WRegs<G>& w, __m512 d, __m512 dmin, __m512i sc, __m512i m) {
  w.d = d;
  w.dmin = dmin;
  w.sc = sc;
  w.m = m;
}

template <int G>
inline void store_regs(const WRegs<G>& w, WChunk<G>* out) {
  for (int g = 0; g < G; ++g) _mm512_store_si512(out->q[g], w.q[g]);
  _mm512_store_ps(out->d, w.d);
  _mm512_store_ps(out->dmin, w.dmin);
  _mm512_store_si512(out->sc, w.sc);
  _mm512_store_si512(out->m, w.m);
}

// One chunk of the gemm's per-thread panel: WChunk with the integer scale and min as floats,
// converted once when the panel is built instead of once per (row, token) pair in the tile's
// epilogue. Exact: |sc|, |m| < 2^8.
template <int G>
struct alignas(64) GemmChunk {
  uint8_t q[G][kLanes][4];  // as WChunk::q: levels + offset as u8, group g, lane l
  float d[kLanes];          // as WChunk::d: lane scales
  float dmin[kLanes];       // as WChunk::dmin: lane min scales
  float sc[kLanes];         // WChunk::sc as floats: lane integer scales (1 without)
  float m[kLanes];          // WChunk::m as floats: lane integer mins (0 without)
};
static_assert(sizeof(GemmChunk<8>) == sizeof(WChunk<8>) && sizeof(GemmChunk<4>) == 512);

template <int G>
inline void store_panel(const WRegs<G>& w, GemmChunk<G>* out) {
  for (int g = 0; g < G; ++g) _mm512_store_si512(out->q[g], w.q[g]);
  _mm512_store_ps(out->d, w.d);
  _mm512_store_ps(out->dmin, w.dmin);
  _mm512_store_ps(out->sc, _mm512_cvtepi32_ps(w.sc));
  _mm512_store_ps(out->m, _mm512_cvtepi32_ps(w.m));
}

template <int G>
inline void load_regs(const WChunk<G>& in, WRegs<G>& w) {
  for (int g = 0; g < G; ++g) w.q[g] = _mm512_load_si512(in.q[g]);
  set_params(w, _mm512_load_ps(in.d), _mm512_load_ps(in.dmin), _mm512_load_si512(in.sc),
             _mm512_load_si512(in.m));
}

// ---------------------------------------------------------------- weight unpackers (full chunks)

#define EDGEFIT_INLINE inline __attribute__((always_inline))

// 64 bytes at p, loaded once. A vector that feeds two instructions (a nibble byte's low and high
// halves, Q6_K's shared bits) is otherwise folded into both as a memory operand by GCC: two loads
// where one would do, in gemv loops bound by the load port (about one 512-bit load per cycle on
// Zen 4). The empty asm makes the value opaque, so it stays in its register. Measured cache-hot
// (one thread, 256×2048, activations prepared once): packed Q4_0 42-43 → 60 GB/s, Q4_K 43-44 →
// 46-47, Q6_K 34 → 46. From DRAM that headroom shows with 2 threads in fast bandwidth windows.
EDGEFIT_INLINE __m512i load_once(const uint8_t* p) {
  __m512i v = _mm512_loadu_si512(p);
  asm("" : "+v"(v));
  return v;
}

EDGEFIT_INLINE void unpack_q8_0(const uint8_t* b, WRegs<8>& w) {  // 16 blocks of 34 bytes
  __m512i lo[4], hi[4];
  for (int k = 0; k < 4; ++k) {
    const uint8_t* q = b + 34 * k + 2;
    lo[k] = load4x128(q, q + 34 * 4, q + 34 * 8, q + 34 * 12);
    hi[k] = load4x128(q + 16, q + 34 * 4 + 16, q + 34 * 8 + 16, q + 34 * 12 + 16);
  }
  transpose4(lo);
  transpose4(hi);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));  // level + 128 as u8
  for (int g = 0; g < 4; ++g) {
    w.q[g] = _mm512_xor_si512(lo[g], flip);
    w.q[g + 4] = _mm512_xor_si512(hi[g], flip);
  }
  set_params(w, chunk_scales<34>(b), _mm512_setzero_ps(), _mm512_set1_epi32(1),
             _mm512_setzero_si512());
}

EDGEFIT_INLINE void unpack_q4_0(const uint8_t* b, WRegs<8>& w) {  // 16 blocks of 18 bytes
  __m512i z[4];
  for (int k = 0; k < 4; ++k) {
    const uint8_t* q = b + 18 * k + 2;
    z[k] = load4x128(q, q + 18 * 4, q + 18 * 8, q + 18 * 12);
  }
  transpose4(z);  // z[g] = qs dword g of all 16 blocks: low nibbles group g, high group g+4
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  for (int g = 0; g < 4; ++g) {
    w.q[g] = _mm512_and_si512(z[g], m4);
    w.q[g + 4] = _mm512_and_si512(_mm512_srli_epi16(z[g], 4), m4);
  }
  set_params(w, chunk_scales<18>(b), _mm512_setzero_ps(), _mm512_set1_epi32(1),
             _mm512_setzero_si512());
}

// Two 256-bit loads: packed Q8_0 quants start 32-byte aligned (chunks 544 bytes apart, quants
// after 32 bytes of scales), so 32-byte loads never split a cache line while half of the 64-byte
// ones would.
inline __m512i load_2x256(const uint8_t* p) {
  return _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))),
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32)), 1);
}

// The 256 nibble bytes of PackedQ4_0Chunk and PackedQ4_KChunk (after their scales): low nibbles
// are groups 0-3, high nibbles groups 4-7. Plain 64-byte loads here, although every other chunk
// splits them across cache lines: measured (Gemv benchmarks, Zen 4) 3-9 % faster from DRAM than
// load_2x256 for both formats, whose unpacking is short enough that the insert shows.
// kHighInPlace: groups 4-7 keep the high nibbles where they are (16 × level, still a u8 operand
// of vpdpbusd), which saves a shift per group; the caller divides their sums by 16 (gemv_chunk).
template <bool kHighInPlace = false>
EDGEFIT_INLINE void unpack_packed_nibbles(const uint8_t* b, WRegs<8>& w) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), m4_hi = _mm512_set1_epi8(static_cast<char>(0xF0));
  for (int g = 0; g < 4; ++g) {
    const __m512i z = load_once(b + 64 * g);
    w.q[g] = _mm512_and_si512(z, m4);
    w.q[g + 4] =
        kHighInPlace ? _mm512_and_si512(z, m4_hi) : _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
  }
}

// A repacked Q4_0 chunk (PackedQ4_0Chunk): the transpose unpack_q4_0 does is already done.
template <bool kHighInPlace = false>
EDGEFIT_INLINE void unpack_q4_0_x16(const uint8_t* b, WRegs<8>& w) {
  const __m256i d =
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + offsetof(PackedQ4_0Chunk, d)));
  unpack_packed_nibbles<kHighInPlace>(b + offsetof(PackedQ4_0Chunk, qs), w);
  set_params(w, _mm512_cvtph_ps(d), _mm512_setzero_ps(), _mm512_set1_epi32(1),
             _mm512_setzero_si512());
}

// A repacked Q8_0 chunk (PackedQ8_0Chunk): levels are stored + 128 already.
EDGEFIT_INLINE void unpack_q8_0_x16(const uint8_t* b, WRegs<8>& w) {
  const __m256i d =
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + offsetof(PackedQ8_0Chunk, d)));
  for (int g = 0; g < 8; ++g) w.q[g] = load_2x256(b + offsetof(PackedQ8_0Chunk, qs) + 64 * g);
  set_params(w, _mm512_cvtph_ps(d), _mm512_setzero_ps(), _mm512_set1_epi32(1),
             _mm512_setzero_si512());
}

// A repacked Q4_K chunk (PackedQ4_KChunk): nibbles as Q4_0's, 6-bit scales and mins one lane each.
template <bool kHighInPlace = false>
EDGEFIT_INLINE void unpack_q4_k_x2(const uint8_t* b, WRegs<8>& w) {
  const __m512i sc_bytes = _mm512_cvtepu8_epi32(ld128(b + offsetof(PackedQ4_KChunk, sc)));
  const __m512i sc = _mm512_and_si512(sc_bytes, _mm512_set1_epi32(63));
  // m_hi: the 64-bit word in every qword, rotated so that qword j's low dword has lane 2j's nibble
  // at bits 2-5 and its high dword lane 2j+1's; then the 2 low bits from sc's top.
  uint64_t m_hi;
  __builtin_memcpy(&m_hi, b + offsetof(PackedQ4_KChunk, m_hi), 8);
  const __m512i rot = _mm512_rolv_epi64(_mm512_set1_epi64(static_cast<long long>(m_hi)),
                                        _mm512_setr_epi64(2, 62, 58, 54, 50, 46, 42, 38));
  // 0xEA: (a & b) | c.
  const __m512i m =
      _mm512_ternarylogic_epi32(rot, _mm512_set1_epi32(0x3C), _mm512_srli_epi32(sc_bytes, 6), 0xEA);
  // d[2], dmin[2]: one 8-byte load and convert, then each spread over its super-block's 8 lanes.
  static_assert(offsetof(PackedQ4_KChunk, dmin) == offsetof(PackedQ4_KChunk, d) + 4);
  const __m512 dd = _mm512_castps128_ps512(_mm_cvtph_ps(
      _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + offsetof(PackedQ4_KChunk, d)))));
  const __m512i half = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  set_params(w, _mm512_permutexvar_ps(half, dd),
             _mm512_permutexvar_ps(_mm512_add_epi32(half, _mm512_set1_epi32(2)), dd), sc, m);
  unpack_packed_nibbles<kHighInPlace>(b + offsetof(PackedQ4_KChunk, qs), w);
}

// A repacked Q6_K chunk (PackedQ6_KChunk): group g's low nibbles are one load and mask (high
// nibbles for g ≥ 2), its top 2 bits one shift and mask of qh; no permutes, no variable shifts.
EDGEFIT_INLINE void unpack_q6_k_x1(const uint8_t* b, WRegs<4>& w) {
  uint16_t d;
  __builtin_memcpy(&d, b + offsetof(PackedQ6_KChunk, d), 2);
  const __m512i sc = _mm512_cvtepi8_epi32(ld128(b + offsetof(PackedQ6_KChunk, scales)));
  set_params(w, _mm512_set1_ps(_cvtsh_ss(d)), _mm512_setzero_ps(), sc, _mm512_setzero_si512());
  const uint8_t* ql = b + offsetof(PackedQ6_KChunk, ql);
  const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  const __m512i l0 = load_once(ql), l1 = load_once(ql + 64);
  const __m512i h = load_once(b + offsetof(PackedQ6_KChunk, qh));
  // 0xEA: (a & b) | c. 16-bit shifts are safe: the masks keep only bits of each byte's own.
  w.q[0] = _mm512_ternarylogic_epi32(l0, m4, _mm512_and_si512(_mm512_slli_epi16(h, 4), m30), 0xEA);
  w.q[1] = _mm512_ternarylogic_epi32(l1, m4, _mm512_and_si512(_mm512_slli_epi16(h, 2), m30), 0xEA);
  w.q[2] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l0, 4), m4, _mm512_and_si512(h, m30), 0xEA);
  w.q[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l1, 4), m4,
                                     _mm512_and_si512(_mm512_srli_epi16(h, 2), m30), 0xEA);
}

// ggml's 12-byte scale decode: 8 six-bit scales → *sc, 8 six-bit mins → *m (one byte each).
EDGEFIT_INLINE void decode_k4_scales(const uint8_t* s, uint64_t* sc, uint64_t* m) {
  uint32_t u[3];
  __builtin_memcpy(u, s, 12);
  const uint32_t k1 = 0x3f3f3f3f, k2 = 0x0f0f0f0f, k3 = 0x03030303;
  const uint32_t m_hi = ((u[2] >> 4) & k2) | (((u[1] >> 6) & k3) << 4);
  const uint32_t m_lo = u[1] & k1;
  const uint32_t s_hi = (u[2] & k2) | (((u[0] >> 6) & k3) << 4);
  const uint32_t s_lo = u[0] & k1;
  *sc = s_lo | (uint64_t{s_hi} << 32);
  *m = m_lo | (uint64_t{m_hi} << 32);
}

// Q4_K / Q5_K: two super-blocks (bytes b0, b1); lane 8s + j = sub-block j of super-block s.
// Sub-block j = 2k + h sits in the h-th nibble of qs bytes 32k … 32k+31.
template <bool kQ5>
EDGEFIT_INLINE void unpack_k4(const uint8_t* b0, const uint8_t* b1, WRegs<8>& w) {
  constexpr int kQsOff = kQ5 ? 48 : 16;  // d, dmin, scales[12] (, qh[32]) precede qs
  const __m512i q00 = _mm512_loadu_si512(b0 + kQsOff), q01 = _mm512_loadu_si512(b0 + kQsOff + 64);
  const __m512i q10 = _mm512_loadu_si512(b1 + kQsOff), q11 = _mm512_loadu_si512(b1 + kQsOff + 64);
  const __m512i base = _mm512_setr_epi32(0, 0, 8, 8, 16, 16, 24, 24, 0, 0, 8, 8, 16, 16, 24, 24);
  const __m512i nib_shift = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512i qh = _mm512_setzero_si512();
  const __m512i qh_base = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 8, 8, 8, 8, 8, 8, 8, 8);
  const __m512i qh_shift = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7);
  if constexpr (kQ5) {
    qh = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0 + 16))),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b1 + 16)), 1);
  }
  for (int g = 0; g < 8; ++g) {
    const __m512i idx = _mm512_add_epi32(base, _mm512_set1_epi32(g));
    const __m512i v0 = _mm512_permutex2var_epi32(q00, idx, q01);
    const __m512i v1 = _mm512_permutex2var_epi32(q10, idx, q11);
    __m512i v = _mm512_mask_blend_epi32(0xFF00, v0, v1);
    v = _mm512_and_si512(_mm512_srlv_epi32(v, nib_shift), m4);
    if constexpr (kQ5) {  // bit j of qh byte e is the 5th bit of weight e of sub-block j
      __m512i h = _mm512_permutexvar_epi32(_mm512_add_epi32(qh_base, _mm512_set1_epi32(g)), qh);
      h = _mm512_and_si512(_mm512_srlv_epi32(h, qh_shift), _mm512_set1_epi8(1));
      v = _mm512_or_si512(v, _mm512_slli_epi32(h, 4));
    }
    w.q[g] = v;
  }
  uint64_t sc0, m0, sc1, m1;
  decode_k4_scales(b0 + 4, &sc0, &m0);
  decode_k4_scales(b1 + 4, &sc1, &m1);
  const __m512i sc = _mm512_cvtepu8_epi32(
      _mm_set_epi64x(static_cast<long long>(sc1), static_cast<long long>(sc0)));
  const __m512i m =
      _mm512_cvtepu8_epi32(_mm_set_epi64x(static_cast<long long>(m1), static_cast<long long>(m0)));
  set_params(w, two_halves(b0, b1), two_halves(b0 + 2, b1 + 2), sc, m);
}

// The 32-weight nibble formats (Q4_1, Q5_0, Q5_1, IQ4_NL; Q4_0 above): 16 blocks of S bytes whose
// 16 nibble bytes start at QsOff. Lane l = block l; group g = low nibbles of qs dword g, group
// g + 4 = its high nibbles (weights 16 + 4g …), as unpack_q4_0.
template <int S, int QsOff>
EDGEFIT_INLINE void legacy_nibbles(const uint8_t* b, __m512i* lo, __m512i* hi) {
  __m512i z[4];
  for (int k = 0; k < 4; ++k) {
    const uint8_t* q = b + S * k + QsOff;
    z[k] = load4x128(q, q + S * 4, q + S * 8, q + S * 12);
  }
  transpose4(z);
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  for (int g = 0; g < 4; ++g) {
    lo[g] = _mm512_and_si512(z[g], m4);
    hi[g] = _mm512_and_si512(_mm512_srli_epi16(z[g], 4), m4);
  }
}

// Q5_0 / Q5_1: adds each weight's 5th bit (bit i of its block's 32-bit qh at QhOff) as 16 to the
// nibbles. Group g's byte k is weight 4g + k (low half) or 16 + 4g + k (high half): bit k + 4·(g%2)
// of qh byte g/2 (or 2 + g/2), broadcast to the 4 bytes of each lane and tested bit by bit.
template <int S, int QhOff>
EDGEFIT_INLINE void add_fifth_bits(const uint8_t* b, __m512i* lo, __m512i* hi) {
  const __m512i offs = _mm512_setr_epi32(0, S, 2 * S, 3 * S, 4 * S, 5 * S, 6 * S, 7 * S, 8 * S,
                                         9 * S, 10 * S, 11 * S, 12 * S, 13 * S, 14 * S, 15 * S);
  const __m512i qh = _mm512_i32gather_epi32(offs, b + QhOff, 1);
  const __m512i bits_even = _mm512_set1_epi32(0x08040201), bits_odd = _mm512_set1_epi32(0x80402010);
  const __m512i sixteen = _mm512_set1_epi8(0x10);
  for (int g = 0; g < 4; ++g) {
    const __m512i bits = g % 2 ? bits_odd : bits_even;
    for (int half = 0; half < 2; ++half) {
      const int byte = 2 * half + g / 2;  // qh byte of this group's weights
      const __m512i idx =
          _mm512_add_epi32(_mm512_set1_epi32(byte * 0x01010101),
                           _mm512_setr_epi32(0, 0x04040404, 0x08080808, 0x0C0C0C0C, 0, 0x04040404,
                                             0x08080808, 0x0C0C0C0C, 0, 0x04040404, 0x08080808,
                                             0x0C0C0C0C, 0, 0x04040404, 0x08080808, 0x0C0C0C0C));
      const __mmask64 set = _mm512_test_epi8_mask(_mm512_shuffle_epi8(qh, idx), bits);
      __m512i& q = half ? hi[g] : lo[g];
      q = _mm512_or_si512(q, _mm512_maskz_mov_epi8(set, sixteen));
    }
  }
}

template <QFormat F>
EDGEFIT_INLINE void unpack_legacy(const uint8_t* b, WRegs<8>& w) {
  constexpr int kS = qformat_info(F).block_bytes;
  constexpr bool kMin = F == QFormat::kQ4_1 || F == QFormat::kQ5_1;
  constexpr bool kQ5 = F == QFormat::kQ5_0 || F == QFormat::kQ5_1;
  constexpr int kQsOff = 2 + (kMin ? 2 : 0) + (kQ5 ? 4 : 0);
  __m512i lo[4], hi[4];
  legacy_nibbles<kS, kQsOff>(b, lo, hi);
  if constexpr (kQ5) add_fifth_bits<kS, kQsOff - 4>(b, lo, hi);
  if constexpr (F == QFormat::kIQ4_NL) {  // table value + 128 as u8
    const __m512i table = _mm512_broadcast_i32x4(_mm_xor_si128(
        _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113),
        _mm_set1_epi8(static_cast<char>(0x80))));
    for (int g = 0; g < 4; ++g) {
      lo[g] = _mm512_shuffle_epi8(table, lo[g]);
      hi[g] = _mm512_shuffle_epi8(table, hi[g]);
    }
  }
  for (int g = 0; g < 4; ++g) {
    w.q[g] = lo[g];
    w.q[g + 4] = hi[g];
  }
  if constexpr (kMin) {  // the block min is added: dmin = m, integer min -1
    set_params(w, chunk_scales<kS>(b), chunk_scales<kS, 2>(b), _mm512_set1_epi32(1),
               _mm512_set1_epi32(-1));
  } else {
    set_params(w, chunk_scales<kS>(b), _mm512_setzero_ps(), _mm512_set1_epi32(1),
               _mm512_setzero_si512());
  }
}

// Q2_K / Q3_K: one super-block; lane s = sub-block of 16 weights. Group g of lane s is qs dword
// 8·(s/8) + 4·(s%2) + g, bits 2·((s%8)/2) of each byte (ggml's 2-bit layout); Q3_K's high bit is
// hmask dword 4·(s%2) + g, bit s/2 of each byte (set: level + 4 = low bits + 4).
template <bool kQ3>
EDGEFIT_INLINE void unpack_k2(const uint8_t* b, WRegs<4>& w) {
  constexpr int kQsOff = kQ3 ? 32 : 16;
  const __m512i qs = _mm512_loadu_si512(b + kQsOff);
  const __m512i idx = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 8, 12, 8, 12, 8, 12, 8, 12);
  const __m512i shift = _mm512_setr_epi32(0, 0, 2, 2, 4, 4, 6, 6, 0, 0, 2, 2, 4, 4, 6, 6);
  const __m512i m2 = _mm512_set1_epi8(0x03);
  for (int g = 0; g < 4; ++g) {
    const __m512i gg = _mm512_set1_epi32(g);
    w.q[g] = _mm512_and_si512(
        _mm512_srlv_epi32(_mm512_permutexvar_epi32(_mm512_add_epi32(idx, gg), qs), shift), m2);
  }
  if constexpr (kQ3) {
    const __m512i hm =
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)));
    const __m512i hidx = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
    const __m512i hshift = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i one = _mm512_set1_epi8(0x01);
    for (int g = 0; g < 4; ++g) {
      const __m512i gg = _mm512_set1_epi32(g);
      const __m512i hb = _mm512_and_si512(
          _mm512_srlv_epi32(_mm512_permutexvar_epi32(_mm512_add_epi32(hidx, gg), hm), hshift), one);
      w.q[g] = _mm512_or_si512(w.q[g], _mm512_slli_epi32(hb, 2));  // level + 4
    }
    // 6-bit scales: low nibble of byte j (j < 8) or j - 8 (high nibble), top 2 bits of byte
    // 8 + j%4 at bits 2·(j/4); bias 32 removed.
    const __m128i s = _mm_maskz_loadu_epi8(0x0FFF, b + 96);
    const __m512i lo = _mm512_and_si512(
        _mm512_srlv_epi32(_mm512_cvtepu8_epi32(_mm_shuffle_epi8(
                              s, _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7))),
                          _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4)),
        _mm512_set1_epi32(15));
    const __m512i hi = _mm512_and_si512(
        _mm512_srlv_epi32(
            _mm512_cvtepu8_epi32(_mm_shuffle_epi8(
                s, _mm_setr_epi8(8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11))),
            _mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6)),
        _mm512_set1_epi32(3));
    const __m512i sc =
        _mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)), _mm512_set1_epi32(32));
    uint16_t d;
    __builtin_memcpy(&d, b + 108, 2);
    set_params(w, _mm512_set1_ps(_cvtsh_ss(d)), _mm512_setzero_ps(), sc, _mm512_setzero_si512());
  } else {
    const __m512i sm = _mm512_cvtepu8_epi32(ld128(b));  // low nibble scale, high nibble min
    uint16_t d, dmin;
    __builtin_memcpy(&d, b + 80, 2);
    __builtin_memcpy(&dmin, b + 82, 2);
    set_params(w, _mm512_set1_ps(_cvtsh_ss(d)), _mm512_set1_ps(_cvtsh_ss(dmin)),
               _mm512_and_si512(sm, _mm512_set1_epi32(15)), _mm512_srli_epi32(sm, 4));
  }
}

// Q6_K: one super-block; lane j = sub-block of 16 weights (h = j/8 half, jj = j%8 within it).
EDGEFIT_INLINE void unpack_q6_k(const uint8_t* b, WRegs<4>& w) {
  const __m512i ql0 = _mm512_loadu_si512(b), ql1 = _mm512_loadu_si512(b + 64);
  const __m512i qh = _mm512_loadu_si512(b + 128);
  // ql dword of group 0 = 16h + 4·(jj%4); its nibble = jj/4. qh dword = 8h + 4·(jj%2), bits
  // 2·(jj/2).
  const __m512i ql_idx =
      _mm512_setr_epi32(0, 4, 8, 12, 0, 4, 8, 12, 16, 20, 24, 28, 16, 20, 24, 28);
  const __m512i ql_shift = _mm512_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4, 0, 0, 0, 0, 4, 4, 4, 4);
  const __m512i qh_idx = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 8, 12, 8, 12, 8, 12, 8, 12);
  const __m512i qh_shift = _mm512_setr_epi32(0, 0, 2, 2, 4, 4, 6, 6, 0, 0, 2, 2, 4, 4, 6, 6);
  const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x03);
  for (int g = 0; g < 4; ++g) {
    const __m512i gg = _mm512_set1_epi32(g);
    __m512i lo = _mm512_permutex2var_epi32(ql0, _mm512_add_epi32(ql_idx, gg), ql1);
    lo = _mm512_and_si512(_mm512_srlv_epi32(lo, ql_shift), m4);
    __m512i hi = _mm512_permutexvar_epi32(_mm512_add_epi32(qh_idx, gg), qh);
    hi = _mm512_and_si512(_mm512_srlv_epi32(hi, qh_shift), m2);
    w.q[g] = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 4));  // level + 32
  }
  uint16_t d;
  __builtin_memcpy(&d, b + 208, 2);
  const __m512i sc = _mm512_cvtepi8_epi32(ld128(b + 192));
  set_params(w, _mm512_set1_ps(_cvtsh_ss(d)), _mm512_setzero_ps(), sc, _mm512_setzero_si512());
}

template <QFormat F>
constexpr int kG = qformat_info(F).groups;
template <QFormat F>
using WChunkOf = WChunk<kG<F>>;
template <QFormat F>
using AChunkOf = AChunk<kG<F>>;
template <QFormat F>
using WRegsOf = WRegs<kG<F>>;
template <QFormat F>
using GemmChunkOf = GemmChunk<kG<F>>;

template <QFormat F>
constexpr int64_t kChunkBytes = chunk_elems(F) /
                                qformat_info(F).block_elems* qformat_info(F).block_bytes;

// Packed 4-bit formats whose high nibbles the gemv leaves in place (unpack_packed_nibbles):
// measured cache-hot (GemvHot-like, one thread) Q4_0 39 → 40, Q4_K 35 → 36 GB/s.
template <QFormat F, bool kPacked>
constexpr bool kHighNibblesInPlace = kPacked && (F == QFormat::kQ4_0 || F == QFormat::kQ4_K);

// A full chunk at b into registers.
// kPacked: the row is repacked (kernels.h). kHighInPlace: see unpack_packed_nibbles.
template <QFormat F, bool kPacked = false, bool kHighInPlace = false>
EDGEFIT_INLINE void unpack_full(const uint8_t* b, WRegsOf<F>& w) {
  static_assert(!kPacked || F == QFormat::kQ4_0 || F == QFormat::kQ8_0 || F == QFormat::kQ4_K ||
                    F == QFormat::kQ6_K,
                "only Q4_0, Q8_0, Q4_K and Q6_K have packed layouts");
  static_assert(!kHighInPlace || kHighNibblesInPlace<F, kPacked>);
  if constexpr (kPacked) {
    if constexpr (F == QFormat::kQ8_0) unpack_q8_0_x16(b, w);
    if constexpr (F == QFormat::kQ4_0) unpack_q4_0_x16<kHighInPlace>(b, w);
    if constexpr (F == QFormat::kQ4_K) unpack_q4_k_x2<kHighInPlace>(b, w);
    if constexpr (F == QFormat::kQ6_K) unpack_q6_k_x1(b, w);
  } else {
    if constexpr (F == QFormat::kQ8_0) unpack_q8_0(b, w);
    if constexpr (F == QFormat::kQ4_0) unpack_q4_0(b, w);
    if constexpr (F == QFormat::kQ4_K) unpack_k4<false>(b, b + 144, w);
    if constexpr (F == QFormat::kQ4_1 || F == QFormat::kQ5_0 || F == QFormat::kQ5_1 ||
                  F == QFormat::kIQ4_NL)
      unpack_legacy<F>(b, w);
    if constexpr (F == QFormat::kQ2_K) unpack_k2<false>(b, w);
    if constexpr (F == QFormat::kQ3_K) unpack_k2<true>(b, w);
    if constexpr (F == QFormat::kQ5_K) unpack_k4<true>(b, b + 176, w);
    if constexpr (F == QFormat::kQ6_K) unpack_q6_k(b, w);
  }
}

// Chunk c of a row into registers: SIMD for full chunks, the portable reference for a partial
// last one (through memory; it happens once per row at most). A repacked row's partial last
// chunk is in ggml's layout, so it takes the same reference path as an unpacked row's.
template <QFormat F, bool kPacked = false>
EDGEFIT_INLINE void unpack_regs(const uint8_t* row, int64_t n, int64_t c, WRegsOf<F>& w) {
  if ((c + 1) * chunk_elems(F) > n) [[unlikely]] {
    WChunkOf<F> tmp;
    unpack_chunk_ref(F, row, n, c, weight_offset(F), &tmp);
    load_regs(tmp, w);
    return;
  }
  unpack_full<F, kPacked>(row + c * kChunkBytes<F>, w);
}

// ---------------------------------------------------------------- dot + epilogue

inline float hsum(__m512 v) {  // reduce16's order: 16 → 8 → 4 → 2 → 1
  const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_movehdup_ps(c)));
}

// hsum of a, b, c, d in lanes 0-3, each folded in reduce16's order: the same pairs added, four
// accumulators per shuffle (hsum alone is 7 dependent instructions per accumulator).
inline __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
  // 16 → 8: 128-bit lanes 0, 1 of a (+ lanes 2, 3) and of b side by side.
  const __m512 ab =
      _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
  const __m512 cd =
      _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
  // 8 → 4: lane k of the result holds the 4 partial sums of accumulator k.
  const __m512 s4 =
      _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
  // 4 → 2 → 1 inside each 128-bit lane: (x0 + x2) + (x1 + x3).
  const __m512 s2 = _mm512_add_ps(s4, _mm512_permute_ps(s4, 0x4E));
  const __m512 s1 = _mm512_add_ps(s2, _mm512_permute_ps(s2, 0xB1));
  const __m512i first = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_castps512_ps128(_mm512_permutexvar_ps(first, s1));
}

// y[t · ys + r] = the folded facc[r][t]: four rows of a token as one 16-byte store.
template <int R, int T>
EDGEFIT_INLINE void store_sums(const __m512 (&facc)[R][T], float* y, int64_t ys) {
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    if constexpr (R == 4) {
      _mm_storeu_ps(y + t * ys, hsum4(facc[0][t], facc[1][t], facc[2][t], facc[3][t]));
    } else {
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) y[t * ys + r] = hsum(facc[r][t]);
    }
  }
}

// Turns 16 exact sub-block sums x into the canonical float lane update (kernels.h).
template <QFormat F>
EDGEFIT_INLINE __m512 epilogue(__m512i x, __m512 wd, __m512 wdmin, __m512i wsc, __m512i wm,
                               __m512 ad, __m512i as, __m512 facc) {
  constexpr QFormatInfo fi = qformat_info(F);
  if constexpr (weight_offset(F) != 0) x = _mm512_sub_epi32(x, as);
  if constexpr (fi.has_scale) x = _mm512_mullo_epi32(x, wsc);
  facc = _mm512_fmadd_ps(_mm512_mul_ps(wd, ad), _mm512_cvtepi32_ps(x), facc);
  if constexpr (fi.has_min) {
    const __m512i mt = _mm512_mullo_epi32(wm, as);
    facc = _mm512_fnmadd_ps(_mm512_mul_ps(wdmin, ad), _mm512_cvtepi32_ps(mt), facc);
  }
  return facc;
}

// The gemm tile's epilogue: epilogue<F>'s floats, with the integer scale and min products done as
// float multiplies of exact integers. Every format keeps |x · sc| and |m · Σ| below 2^24 (Q5_K,
// the largest: 32 · 128 · 31 · 63 < 2^23), so float(x) · float(sc) == float(x · sc), no
// rounding. Why: vpmulld is two port-0 µops on Intel cores, where vpdpbusd also runs; a float
// multiply can take port 5. Q4_K had four vpmulld µops and two converts per (row, token, chunk)
// on port 0 beside its 8 vpdpbusd; now one convert.
template <QFormat F>
EDGEFIT_INLINE __m512 epilogue_panel(__m512i x, const GemmChunk<qformat_info(F).groups>& wc,
                                     __m512 ad, __m512i as, __m512 asf, __m512 facc) {
  constexpr QFormatInfo fi = qformat_info(F);
  if constexpr (weight_offset(F) != 0) x = _mm512_sub_epi32(x, as);
  __m512 xf = _mm512_cvtepi32_ps(x);
  if constexpr (fi.has_scale) xf = _mm512_mul_ps(xf, _mm512_load_ps(wc.sc));
  facc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_load_ps(wc.d), ad), xf, facc);
  if constexpr (fi.has_min) {
    const __m512 mt = _mm512_mul_ps(_mm512_load_ps(wc.m), asf);
    facc = _mm512_fnmadd_ps(_mm512_mul_ps(_mm512_load_ps(wc.dmin), ad), mt, facc);
  }
  return facc;
}

// Gemv: one row against one token, each chunk unpacked straight into registers. Rows are walked
// one after the other so the weights stream in address order (4 interleaved rows measured 2×
// slower from DRAM: the prefetcher loses short streams), and each chunk prefetches the bytes
// kPrefetchRows rows ahead, which the hardware prefetcher alone does not keep up with.
constexpr int kPrefetchRows = 4;

// One chunk's products and epilogue, accumulated into facc. kHighInPlace: groups 4-7 hold 16 ×
// their levels (unpack_packed_nibbles), so their exact sum is 16 × the true one; it is summed in a
// chain of its own and shifted back (exact: a multiple of 16, |sum| < 2^19), once per chunk
// instead of once per group. The lane sums, and so the floats, equal the plain path's.
template <QFormat F, bool kHighInPlace = false>
EDGEFIT_INLINE __m512 gemv_chunk(const WRegsOf<F>& w, const AChunkOf<F>& ac, __m512 facc) {
  // Two chains: halves the vpdpbusd latency chain; int32 sums are exact in any order.
  __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
  __m512i x;
  if constexpr (kHighInPlace) {
    static_assert(kG<F> == 8);
#pragma GCC unroll 4
    for (int g = 0; g < 4; ++g) {
      acc0 = _mm512_dpbusd_epi32(acc0, w.q[g], _mm512_load_si512(ac.q[g]));
      acc1 = _mm512_dpbusd_epi32(acc1, w.q[g + 4], _mm512_load_si512(ac.q[g + 4]));
    }
    x = _mm512_add_epi32(acc0, _mm512_srai_epi32(acc1, 4));
  } else {
#pragma GCC unroll 8
    for (int g = 0; g < kG<F>; g += 2) {
      acc0 = _mm512_dpbusd_epi32(acc0, w.q[g], _mm512_load_si512(ac.q[g]));
      acc1 = _mm512_dpbusd_epi32(acc1, w.q[g + 1], _mm512_load_si512(ac.q[g + 1]));
    }
    x = _mm512_add_epi32(acc0, acc1);
  }
  return epilogue<F>(x, w.d, w.dmin, w.sc, w.m, _mm512_load_ps(ac.d), _mm512_load_si512(ac.sum),
                     facc);
}

// pf: bytes ahead that packed rows prefetch (kernels/prefetch.h; 0 = the hardware's alone).
template <QFormat F, bool kPacked>
EDGEFIT_INLINE float gemv_row(const uint8_t* row, size_t w_stride, int64_t n, const AChunkOf<F>* a,
                              int64_t nc, int64_t pf) {
  __m512 facc = _mm512_setzero_ps();
  // Full chunks in a loop of their own: no per-chunk "is this the last one" test (a sixth of the
  // Q4_0 loop's instructions).
  const int64_t full = n / chunk_elems(F);
  for (int64_t c = 0; c < full; ++c) {
    // Repacked rows are one stream: prefetched pf bytes ahead where that pays (Intel), left to
    // the hardware prefetcher where it does not (Zen 4); see kernels/prefetch.h.
    if constexpr (!kPacked) {
      const uint8_t* ahead = row + kPrefetchRows * w_stride + c * kChunkBytes<F>;
#pragma GCC unroll 16
      for (int off = 0; off < kChunkBytes<F>; off += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(ahead + off), _MM_HINT_T0);
      }
    } else if (pf > 0) {
      const uint8_t* ahead = row + c * kChunkBytes<F> + pf;
#pragma GCC unroll 16
      for (int off = 0; off < kChunkBytes<F>; off += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(ahead + off), _MM_HINT_T0);
      }
    }
    constexpr bool kInPlace = kHighNibblesInPlace<F, kPacked>;
    WRegsOf<F> w;
    unpack_full<F, kPacked, kInPlace>(row + c * kChunkBytes<F>, w);
    facc = gemv_chunk<F, kInPlace>(w, a[c], facc);
  }
  for (int64_t c = full; c < nc; ++c) {  // a partial last chunk
    WRegsOf<F> w;
    unpack_regs<F, kPacked>(row, n, c, w);
    facc = gemv_chunk<F>(w, a[c], facc);
  }
  return hsum(facc);
}

// Gemm register tile: R panel rows × T tokens over all nc chunks; G vpdpbusd per (row, token)
// per chunk, the weights and activations each loaded once per chunk.
template <QFormat F, int R, int T>
void tile(const GemmChunkOf<F>* const* wr, const AChunkOf<F>* const* at, int64_t nc, float* y,
          int64_t ys) {
  __m512 facc[R][T];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) facc[r][t] = _mm512_setzero_ps();
  for (int64_t c = 0; c < nc; ++c) {
    __m512i acc[R][T];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int g = 0; g < kG<F>; ++g) {
      __m512i wv[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) wv[r] = _mm512_load_si512(wr[r][c].q[g]);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m512i av = _mm512_load_si512(at[t][c].q[g]);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], wv[r], av);
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m512 ad = _mm512_load_ps(at[t][c].d);
      const __m512i as = _mm512_load_si512(at[t][c].sum);
      // The sums as floats once per token, shared by the R rows (only min terms read them).
      const __m512 asf = qformat_info(F).has_min ? _mm512_cvtepi32_ps(as) : _mm512_setzero_ps();
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        facc[r][t] = epilogue_panel<F>(acc[r][t], wr[r][c], ad, as, asf, facc[r][t]);
    }
  }
  store_sums<R, T>(facc, y, ys);
}

template <QFormat F, int R>
void tile_rows(int tn, const GemmChunkOf<F>* const* wr, const AChunkOf<F>* const* at, int64_t nc,
               float* y, int64_t ys) {
  switch (tn) {
    case 1:
      tile<F, R, 1>(wr, at, nc, y, ys);
      break;
    case 2:
      tile<F, R, 2>(wr, at, nc, y, ys);
      break;
    default:
      tile<F, R, 3>(wr, at, nc, y, ys);
      break;
  }
}

template <QFormat F, bool kPacked>
void gemv_q(int64_t n, const uint8_t* wb, size_t w_stride, int64_t n_rows, const AChunkOf<F>* a,
            float* y) {
  const int64_t nc = n_chunks(F, n);
  const int64_t pf = kPacked ? packed_prefetch_bytes() : 0;
  for (int64_t r = 0; r < n_rows; ++r)
    y[r] = gemv_row<F, kPacked>(wb + r * w_stride, w_stride, n, a, nc, pf);
}

// One 4-row panel group against tokens [t0, t1): register tiles of up to 3 tokens.
template <QFormat F>
void tile_group(const GemmChunkOf<F>* const* wr, int rn, const uint8_t* ab, size_t act_stride,
                int64_t t0, int64_t t1, int64_t nc, float* y, int64_t ys) {
  using AC = AChunkOf<F>;
  for (int64_t t = t0; t < t1; t += kTileTokens) {
    const int tn = t1 - t < kTileTokens ? static_cast<int>(t1 - t) : kTileTokens;
    const AC* at[kTileTokens];
    for (int i = 0; i < tn; ++i) at[i] = reinterpret_cast<const AC*>(ab + (t + i) * act_stride);
    float* yt = y + t * ys;
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

template <QFormat F, bool kPacked = false>
void gemm_q(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
            size_t act_stride, int64_t n_tok, float* y, int64_t ys) {
  using WC = GemmChunkOf<F>;
  using AC = AChunkOf<F>;
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(act);
  if (n_tok == 1) {
    gemv_q<F, kPacked>(n, wb, w_stride, n_rows, reinterpret_cast<const AC*>(ab), y);
    return;
  }
  // Unpack up to kPanelRows whole rows once; every 64-token block then reuses them. (Unpacking 4
  // rows per token block instead rebuilt each panel 8 times for 512 tokens: ~5 % of a Q4_K
  // prefill's samples.) A 64-row task's panel is 192 KiB (Q4_K, n = 2048) to 528 KiB (n = 5632),
  // beside a token block's activations in L2.
  const int64_t nc = n_chunks(F, n);
  const int64_t max_rows = n_rows < kPanelRows ? n_rows : kPanelRows;
  auto* panel = static_cast<WC*>(thread_scratch(max_rows * nc * sizeof(WC)));
  for (int64_t p0 = 0; p0 < n_rows; p0 += kPanelRows) {
    const int64_t pn = n_rows - p0 < kPanelRows ? n_rows - p0 : kPanelRows;
    for (int64_t r = 0; r < pn; ++r) {
      const uint8_t* row = wb + (p0 + r) * w_stride;
      for (int64_t c = 0; c < nc; ++c) {
        WRegsOf<F> regs;
        unpack_regs<F, kPacked>(row, n, c, regs);
        store_panel(regs, panel + r * nc + c);
      }
    }
    for (int64_t t0 = 0; t0 < n_tok; t0 += kQTokBlock) {
      const int64_t t1 = t0 + kQTokBlock < n_tok ? t0 + kQTokBlock : n_tok;
      for (int64_t r0 = 0; r0 < pn; r0 += kTileRows) {
        const int rn = pn - r0 < kTileRows ? static_cast<int>(pn - r0) : kTileRows;
        const WC* wr[kTileRows];
        for (int r = 0; r < rn; ++r) wr[r] = panel + (r0 + r) * nc;
        tile_group<F>(wr, rn, ab, act_stride, t0, t1, nc, y + p0 + r0, ys);
      }
    }
  }
}

template <QFormat F, bool kPacked = false>
float vec_dot_q(int64_t n, const void* w, const void* act) {
  float y;
  gemm_q<F, kPacked>(n, w, 0, 1, act, 0, 1, &y, 1);
  return y;
}

template <QFormat F>
void unpack_chunk(const uint8_t* row, int64_t n, int64_t c, WChunkOf<F>* out) {
  WRegsOf<F> regs;
  unpack_regs<F>(row, n, c, regs);
  store_regs(regs, out);
}

// ---------------------------------------------------------------- float weights

// 16 weights at p as floats.
template <DType W>
inline __m512 load_w16(const void* p, __mmask16 k = 0xFFFF) {
  if constexpr (W == DType::F32) return _mm512_maskz_loadu_ps(k, p);
  if constexpr (W == DType::F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, p));
  // BF16: the upper half of an f32.
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, p)), 16));
}

template <DType W>
constexpr int64_t wsize() {
  return W == DType::F32 ? 4 : 2;
}

// Weight i of row r of a tile at w: rows w_stride apart, or (kX4) a row-interleaved group, where
// run i/16 holds 16 weights of each of the 4 rows (kernels.h) and i is a multiple of 16.
template <DType W, bool kX4>
inline const uint8_t* wptr(const uint8_t* w, size_t w_stride, int r, int64_t i) {
  if constexpr (kX4) return w + (4 * i + kInterleaveRun * r) * wsize<W>();
  return w + r * w_stride + i * wsize<W>();
}

// R rows × T tokens; lane i mod 16 of each accumulator, as the scalar reference.
template <DType W, int R, int T, bool kX4 = false>
void ftile(int64_t n, const uint8_t* w, size_t w_stride, const float* const* x, float* y,
           int64_t ys) {
  static_assert(!kX4 || R == kInterleaveRows, "an interleaved group is read whole");
  __m512 acc[R][T];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 wv[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) wv[r] = load_w16<W>(wptr<W, kX4>(w, w_stride, r, i));
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_loadu_ps(x[t] + i);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  if (!kX4 && i < n) {  // masked tail: lanes past n keep their value exactly
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512 wv = load_w16<W>(wptr<W, false>(w, w_stride, r, i), k);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        acc[r][t] = _mm512_mask3_fmadd_ps(wv, _mm512_maskz_loadu_ps(k, x[t] + i), acc[r][t], k);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) y[t * ys + r] = hsum(acc[r][t]);
}

// kX4: row-interleaved weights (whole groups of 4 rows, widths a multiple of 16).
template <DType W, bool kX4 = false>
void gemm_f(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
            size_t act_stride, int64_t n_tok, float* y, int64_t ys) {
  const auto* wb = static_cast<const uint8_t*>(w);
  for (int64_t t0 = 0; t0 < n_tok; t0 += kTokBlock) {
    const int64_t t1 = t0 + kTokBlock < n_tok ? t0 + kTokBlock : n_tok;
    for (int64_t r = 0; r < n_rows; r += 4) {
      for (int64_t t = t0; t < t1; t += 4) {
        const float* x[4];
        const int tn = t1 - t < 4 ? static_cast<int>(t1 - t) : 4;
        for (int i = 0; i < tn; ++i) {
          x[i] = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act) +
                                                (t + i) * act_stride);
        }
        const uint8_t* wr = wb + r * w_stride;
        float* yt = y + t * ys + r;
        if (n_rows - r >= 4 && tn == 4) {
          ftile<W, 4, 4, kX4>(n, wr, w_stride, x, yt, ys);
        } else if (n_rows - r >= 4) {
          // One token (decode), or a token edge: 4 rows side by side give 4 independent FMA
          // chains, where one row alone is FMA-latency bound. Measured (Zen 4, weights on huge
          // pages, one thread) F16 gemv 17.5 → 20.7 GB/s from DRAM and 34 → 56 GB/s cache-hot;
          // row-interleaved (kX4), the 4 rows are one stream (kernels.h).
          for (int i = 0; i < tn; ++i) ftile<W, 4, 1, kX4>(n, wr, w_stride, x + i, yt + i * ys, ys);
        } else {  // edges (never kX4: whole groups): one (row, token) at a time, same lane order
          for (int64_t rr = r; rr < n_rows && rr < r + 4; ++rr) {
            for (int i = 0; i < tn; ++i) {
              ftile<W, 1, 1>(n, wb + rr * w_stride, 0, x + i, y + (t + i) * ys + rr, ys);
            }
          }
        }
      }
    }
  }
}

template <DType W>
float vec_dot_f(int64_t n, const void* w, const void* x) {
  float y;
  const float* xp = static_cast<const float*>(x);
  ftile<W, 1, 1>(n, static_cast<const uint8_t*>(w), 0, &xp, &y, 1);
  return y;
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
    case QFormat::kQ4_1:
      unpack_chunk<QFormat::kQ4_1>(r, n, c, static_cast<WChunk<8>*>(out));
      break;
    case QFormat::kQ5_0:
      unpack_chunk<QFormat::kQ5_0>(r, n, c, static_cast<WChunk<8>*>(out));
      break;
    case QFormat::kQ5_1:
      unpack_chunk<QFormat::kQ5_1>(r, n, c, static_cast<WChunk<8>*>(out));
      break;
    case QFormat::kIQ4_NL:
      unpack_chunk<QFormat::kIQ4_NL>(r, n, c, static_cast<WChunk<8>*>(out));
      break;
    case QFormat::kQ2_K:
      unpack_chunk<QFormat::kQ2_K>(r, n, c, static_cast<WChunk<4>*>(out));
      break;
    case QFormat::kQ3_K:
      unpack_chunk<QFormat::kQ3_K>(r, n, c, static_cast<WChunk<4>*>(out));
      break;
  }
}

// The entry of format F (kPacked: its repacked rows); weight and activation types and packing
// come from F itself (isa_tables.h), so a misplaced entry fails the slot test.
template <QFormat F, bool kPacked = false>
constexpr FormatKernels qk(ActRowBytesFn bytes, PrepareActFn prep) {
  return {qformat_dtype(F),
          kPacked ? qformat_packing(F) : uint8_t{0},
          qformat_act_dtype(F),
          qformat_info(F).block_elems,
          bytes,
          prep,
          vec_dot_q<F, kPacked>,
          gemm_q<F, kPacked>};
}
template <DType W>
constexpr FormatKernels fk() {
  return {W, 0, DType::F32, 1, f32_act_bytes, copy_f32_act, vec_dot_f<W>, gemm_f<W>};
}
// Row-interleaved float weights: gemm only (one row of a group is not contiguous).
template <DType W>
constexpr FormatKernels fk_x4() {
  return {W,       float_x4_packing(W), DType::F32, kInterleaveRun, f32_act_bytes, copy_f32_act,
          nullptr, gemm_f<W, true>};
}

}  // namespace

UnpackChunkFn avx512vnni_unpack() {
  return unpack_any;
}

namespace {

KernelDispatch make_table() {
  using F = QFormat;
  using S = KernelSlot;
  KernelDispatch kd{Isa::kAvx512Vnni, "avx512vnni"};
  kd.set(S::kQ8_0, qk<F::kQ8_0>(panel_act_bytes_q8_0, prep_avx512_q8_0_s128))
      .set(S::kQ4_0, qk<F::kQ4_0>(panel_act_bytes_q8_0, prep_avx512_q8_0_s8))
      .set(S::kQ4_1, qk<F::kQ4_1>(panel_act_bytes_q8_0, prep_avx512_q8_0_s1))
      .set(S::kQ5_0, qk<F::kQ5_0>(panel_act_bytes_q8_0, prep_avx512_q8_0_s16))
      .set(S::kQ5_1, qk<F::kQ5_1>(panel_act_bytes_q8_0, prep_avx512_q8_0_s1))
      .set(S::kIQ4_NL, qk<F::kIQ4_NL>(panel_act_bytes_q8_0, prep_avx512_q8_0_s128))
      .set(S::kQ2_K, qk<F::kQ2_K>(panel_act_bytes_k16, prep_avx512_k16_s1))
      .set(S::kQ3_K, qk<F::kQ3_K>(panel_act_bytes_k16, prep_avx512_k16_s4))
      .set(S::kQ4_K, qk<F::kQ4_K>(panel_act_bytes_k32, prep_avx512_k32_s1))
      .set(S::kQ5_K, qk<F::kQ5_K>(panel_act_bytes_k32, prep_avx512_k32_s1))
      .set(S::kQ6_K, qk<F::kQ6_K>(panel_act_bytes_k16, prep_avx512_k16_s32))
      .set(S::kF16, fk<DType::F16>())
      .set(S::kBF16, fk<DType::BF16>())
      .set(S::kF32, fk<DType::F32>())
      .set(S::kQ4_0x16, qk<F::kQ4_0, true>(panel_act_bytes_q8_0, prep_avx512_q8_0_s8))
      .set(S::kQ8_0x16, qk<F::kQ8_0, true>(panel_act_bytes_q8_0, prep_avx512_q8_0_s128))
      .set(S::kQ4_Kx2, qk<F::kQ4_K, true>(panel_act_bytes_k32, prep_avx512_k32_s1))
      .set(S::kQ6_Kx1, qk<F::kQ6_K, true>(panel_act_bytes_k16, prep_avx512_k16_s32))
      .set(S::kF16x4, fk_x4<DType::F16>())
      .set(S::kBF16x4, fk_x4<DType::BF16>())
      .set(S::kF32x4, fk_x4<DType::F32>());
  add_sparse_kernels(kd);  // last: the sparse slots (dot_sparse_*.cpp)
  return kd;
}

}  // namespace

const KernelDispatch& avx512vnni_dispatch() {
  static const KernelDispatch kd = make_table();
  return kd;
}

}  // namespace edgefit::kernels::detail
