// The AVX-512 AMX table: the AVX-512 VNNI table with AMX-INT8 gemm kernels for the packed Q8_0,
// Q4_0, Q4_K and Q6_K weights (prompt processing: many tokens per weight). Decode (one token) and
// every other format stay on the VNNI kernels. Compiled with AVX-512 + AMX flags; runs only after
// amx_support() says the CPU has AMX-INT8 and the kernel granted the tile state.
//
// Numerics: the same canonical float order as every table (kernels.h), so results equal the
// scalar table's bit for bit. A tile product covers exactly one sub-block (amx_panel.h): with the
// activations as A (16 tokens × the sub-block's K bytes) and the weight panel as B (16 rows), C
// row m holds the exact int32 sub-block sums of token m against 16 rows. Weights are signed
// levels and activations signed quants (tdpbssd), so no offset correction is needed. The float
// accumulators are kept per (token, lane k % 16) as vectors OVER ROWS: lane += (d_row · d_act) ·
// isum is then one multiply and one fma for 16 rows at once, and the final 16 → 8 → 4 → 2 → 1
// fold over lanes is vertical adds of those vectors, element by element the order of reduce16.
// k-quant sub-block scales are applied as float multiplies, exact here: |sc · isum| < 2^24 (Q4_K
// 63 · 32·15·128, Q6_K 128 · 16·32·128) and |m · Σact| < 2^24, so float(sc)·float(isum) is the
// int32 product, as the other tables compute it.
//
// Activations: a prepared row is the VNNI table's panel row (so the one-token path and the
// packed kernels' vec_dot read it as they are) followed by the plain quants, sub-block after
// sub-block, which a tile load reads with the row stride. The scales and sums come from the panel
// part. The extra write is ~n bytes per row, once per matmul.
//
// Where the time goes (docs/runtime.md): a tile product takes about as long whatever its K (~4.4
// ns measured for 16×16×32), so K = 32 (16 for Q6_K) uses half (a quarter) of the TMUL's peak,
// and storing each C takes as long again. The float epilogue (a convert, a multiply and an fma
// per 16 results, plus the scale multiply and min term of the k-quants) is the same work the VNNI
// kernels do per sub-block, and about half the time: AMX replaces the integer products only.
// Loop order: a call's panels in groups of 4, each 16-token tile against the 4 in turn (its
// activations stay in L1/L2), and within a panel lane by lane (accumulators in registers). The
// epilogue's cost follows its loads more than its arithmetic (docs/runtime.md), so a full tile's
// per-token scales are gathered once per tile into one table (gather_token_params).
#include <cstring>

#include "kernels/amx_panel.h"
#include "kernels/amx_tiles.h"
#include "kernels/isa_tables.h"

namespace edgefit::kernels::detail {
namespace {

// Fewer tokens than this go to the VNNI kernels. Building a panel costs transposes per 16 rows,
// once per call, which a few tokens do not repay, and the k-quants' epilogue is longer. Measured
// on the Xeon this was built on, one thread, 2048×2048 packed, busy host (rough): Q4_0 and Q8_0
// AMX is behind VNNI at 16 tokens and ahead from 64 (Q4_0 1.28-1.34 vs 1.43-1.51 ms, 512 tokens
// 9-10.5 vs 12-13.4 ms); Q4_K behind at 64 (2.04 vs 1.90 ms), ahead at 512 (13.5-14.2 vs 15.7);
// Q6_K (16-weight sub-blocks: a quarter of the tile's K, twice the epilogues per weight) behind
// at 64 (2.57 vs 2.13) and level at 512 (16.7 vs 16.3).
template <QFormat F>
constexpr int64_t kMinAmxTokens = F == QFormat::kQ4_K   ? 128
                                  : F == QFormat::kQ6_K ? 256
                                                        : 32;

constexpr int kTileTokens = 16;  // tokens per tile product (M; also the C tile's rows)

// Panels built together and run against each 16 tokens in turn: the 16 tokens' activation rows
// (~40 KiB for n = 2048) are then read from L1/L2 four times instead of once per panel from
// L3, where 512 tokens' rows (~2.2 MiB) live. 4 panels = the 64 rows of one matmul task
// (matmul.cpp), ~190 KiB (n = 2048) to 540 KiB (n = 5632) of scratch. Measured (shared host,
// 2048×2048, 512 tokens, one thread, min CPU time of 3 rounds), 1 panel vs 4: Q4_0 12.6 vs 11.1
// ms, Q4_K 17.3 vs 14.7 ms; 8 panels gained nothing more.
constexpr int64_t kPanelGroup = 4;

// Tiles: tmm0/tmm3 = A (m tokens × one sub-block's bytes), tmm1/tmm4 = B (one sub-block of the
// 16-row panel), tmm2/tmm5 = C (m tokens × 16 rows of int32), for even/odd sub-blocks. GCC's tile
// intrinsics paste the tile number into the instruction text, so the calls spell them as literals.
TileConfig tile_config(int m_tokens, int sub_bytes) {
  TileConfig cfg;
  for (int p = 0; p < 2; ++p) {
    cfg.rows[3 * p] = static_cast<uint8_t>(m_tokens);
    cfg.colsb[3 * p] = static_cast<uint16_t>(sub_bytes);
    cfg.rows[3 * p + 1] = static_cast<uint8_t>(sub_bytes / 4);
    cfg.colsb[3 * p + 1] = 64;
    cfg.rows[3 * p + 2] = static_cast<uint8_t>(m_tokens);
    cfg.colsb[3 * p + 2] = 64;
  }
  return cfg;
}

template <QFormat F>
constexpr int kG = qformat_info(F).groups;
template <QFormat F>
using TileOf = AmxWeightTile<kG<F>>;
template <QFormat F>
using AChunkOf = AChunk<kG<F>>;

// The kernel slot of F's packed weights: the slots this table takes over from the VNNI one.
template <QFormat F>
constexpr KernelSlot kPackedSlot = F == QFormat::kQ8_0   ? KernelSlot::kQ8_0x16
                                   : F == QFormat::kQ4_0 ? KernelSlot::kQ4_0x16
                                   : F == QFormat::kQ4_K ? KernelSlot::kQ4_Kx2
                                                         : KernelSlot::kQ6_Kx1;

// The VNNI table's kernels for the same packing: the one-token path, small token counts and the
// panel part of the activation rows.
template <QFormat F>
const FormatKernels& vnni_packed() {
  return avx512vnni_dispatch().at(kPackedSlot<F>);
}

// ---------------------------------------------------------------- activations

template <QFormat F>
size_t panel_bytes(int64_t n) {
  return static_cast<size_t>(n_chunks(F, n)) * sizeof(AChunkOf<F>);
}

// Bytes of an AMX activation row: the panel row, then the plain quants of whole chunks.
template <QFormat F>
size_t amx_act_bytes(int64_t n) {
  return panel_bytes<F>(n) + static_cast<size_t>(n_chunks(F, n) * chunk_elems(F));
}

// After the panel row at out, the plain quants: sub-block l of chunk c (4G bytes) at
// 64G·c + 4G·l. Lane l's quads are gathered by the same 16×16 transpose the weights use. Rows
// are 64-byte aligned (the VNNI preparation before this needs it; matmul allocates them so), but
// the loads and stores here do not rely on it.
template <QFormat F>
void append_plain(int64_t n, void* out) {
  constexpr int G = kG<F>;
  const auto* a = static_cast<const AChunkOf<F>*>(out);
  uint8_t* plain = static_cast<uint8_t*>(out) + panel_bytes<F>(n);
  for (int64_t c = 0; c < n_chunks(F, n); ++c) {
    __m512i v[16];
    for (int g = 0; g < 16; ++g)
      v[g] = g < G ? _mm512_loadu_si512(a[c].q[g]) : _mm512_setzero_si512();
    transpose16x16(v);  // v[l] dwords 0..G-1 = sub-block l's quads
    uint8_t* p = plain + c * 64 * G;
    for (int l = 0; l < 16; ++l) {
      if constexpr (G == 8) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 32 * l), _mm512_castsi512_si256(v[l]));
      } else {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 16 * l), _mm512_castsi512_si128(v[l]));
      }
    }
  }
}

// The VNNI table's panel row, then the plain quants.
template <QFormat F>
void amx_prep(const float* x, int64_t n, void* out) {
  vnni_packed<F>().prepare_act(x, n, out);
  append_plain<F>(n, out);
}

// ---------------------------------------------------------------- gemm

// Lane accumulators of up to 16 tokens against one panel: [lane][token][row], so the updates of
// one sub-block (one lane, every token) are one contiguous KiB and the 16 KiB stay in L1.
struct LaneAcc {
  float v[16][kTileTokens][kAmxRows];  // lane k % 16, token, weight row of the panel
};

// The weight side of one sub-block's epilogue: vectors over the panel's 16 rows.
template <QFormat F>
struct RowParams {
  __m512 d;     // the rows' scales
  __m512 sc;    // the rows' integer sub-block scales as floats (k-quants; else unused)
  __m512 m;     // the rows' integer sub-block mins as floats (Q4_K; else unused)
  __m512 dmin;  // the rows' super-block min scales (Q4_K; else unused)

  explicit EDGEFIT_AMX_INLINE RowParams(const TileOf<F>& tile)
      : d(_mm512_load_ps(tile.d)),
        sc(qformat_info(F).has_scale ? _mm512_load_ps(tile.sc) : _mm512_setzero_ps()),
        m(qformat_info(F).has_min ? _mm512_load_ps(tile.m) : _mm512_setzero_ps()),
        dmin(qformat_info(F).has_min ? _mm512_load_ps(tile.dmin) : _mm512_setzero_ps()) {}
};

// One token's step of a lane for 16 rows: prev + (d_row · d_act) · isum (isum: c_row's 16 int32,
// times the integer scale for k-quants), then the min term with the token's sub-block Σ as a float
// (sum; Q4_K only, exact: |Σ| ≤ 32 · 127), as every table does.
template <QFormat F>
EDGEFIT_AMX_INLINE __m512 lane_step(const int32_t* c_row, const RowParams<F>& w, float d_act,
                                    float sum, __m512 prev) {
  constexpr QFormatInfo fi = qformat_info(F);
  const __m512 ad = _mm512_set1_ps(d_act);
  __m512 x = _mm512_cvtepi32_ps(_mm512_load_si512(c_row));
  if constexpr (fi.has_scale) x = _mm512_mul_ps(x, w.sc);
  __m512 a = _mm512_fmadd_ps(_mm512_mul_ps(w.d, ad), x, prev);
  if constexpr (fi.has_min) {
    const __m512 mt = _mm512_mul_ps(w.m, _mm512_set1_ps(sum));
    a = _mm512_fnmadd_ps(_mm512_mul_ps(w.dmin, ad), mt, a);
  }
  return a;
}

// Token t's activation chunk holding sub-block s (act = token 0's row).
template <QFormat F>
EDGEFIT_AMX_INLINE const AChunkOf<F>& act_chunk(const uint8_t* act, size_t act_stride, int t,
                                                int64_t s) {
  return *reinterpret_cast<const AChunkOf<F>*>(act + t * act_stride +
                                               static_cast<size_t>(s / 16) * sizeof(AChunkOf<F>));
}

// Sub-block s's sums (c: m rows of 16 int32, one per token) into lane s % 16 of each token's
// accumulators in acc. kFirst: the lane's first sub-block (s < 16): it starts from +0 in a
// register, not from memory.
template <QFormat F, bool kFirst>
EDGEFIT_AMX_INLINE void epilogue(const int32_t* c, const TileOf<F>& tile, const uint8_t* act,
                                 size_t act_stride, int m, int64_t s, LaneAcc& acc) {
  const int lane = static_cast<int>(s % 16);
  const RowParams<F> w(tile);
  float(*f)[kAmxRows] = acc.v[lane];
  for (int t = 0; t < m; ++t) {
    const __m512 prev = kFirst ? _mm512_setzero_ps() : _mm512_load_ps(f[t]);
    const AChunkOf<F>& ac = act_chunk<F>(act, act_stride, t, s);
    _mm512_store_ps(
        f[t], lane_step<F>(c + 16 * t, w, ac.d[lane], static_cast<float>(ac.sum[lane]), prev));
  }
}

// The 16 lanes of each token folded as reduce16 does, written to y for the first `rows` rows.
EDGEFIT_AMX_INLINE void fold_store(const LaneAcc& acc, int m, int rows, float* y, int64_t ys) {
  const __mmask16 k = static_cast<__mmask16>((1u << rows) - 1);
  for (int t = 0; t < m; ++t) {
    __m512 b[8], c[4];
    for (int i = 0; i < 8; ++i)
      b[i] = _mm512_add_ps(_mm512_load_ps(acc.v[i][t]), _mm512_load_ps(acc.v[i + 8][t]));
    for (int i = 0; i < 4; ++i) c[i] = _mm512_add_ps(b[i], b[i + 4]);
    const __m512 r = _mm512_add_ps(_mm512_add_ps(c[0], c[2]), _mm512_add_ps(c[1], c[3]));
    _mm512_mask_storeu_ps(y + t * ys, k, r);
  }
}

// The tile product of sub-block s into ring slot c. Even sub-blocks use tiles 0-2, odd ones 3-5
// (A, B, C): tile registers are not renamed, so alternating lets the next product start while
// this one's sums are still being stored and read. (Measured on this host's Xeon: a tile product
// of 16×16×32 takes ~4.4 ns, its store as long; storing C to a buffer outside L1 made each
// product 2-4× slower, hence the ring of two KiB-sized slots and the L1-sized accumulators.)
// tile_compute() loads A and B and multiplies into C; tile_store() writes C to its ring slot.
// They are apart so panel_full_tile() can place the store after the previous sub-block's
// epilogue: a tile store waits for its product, and the vector code behind it waits too.
template <int kParity>
EDGEFIT_AMX_INLINE void tile_compute(const uint8_t* a, long stride, const int8_t* b) {
  if constexpr (kParity == 0) {
    _tile_zero(2);
    _tile_loadd(0, a, stride);
    _tile_loadd(1, b, 64);
    _tile_dpbssd(2, 0, 1);
  } else {
    _tile_zero(5);
    _tile_loadd(3, a, stride);
    _tile_loadd(4, b, 64);
    _tile_dpbssd(5, 3, 4);
  }
}

template <int kParity>
EDGEFIT_AMX_INLINE void tile_store(int32_t* c) {
  if constexpr (kParity == 0) {
    _tile_stored(2, c, 64);
  } else {
    _tile_stored(5, c, 64);
  }
}

// Both at once, the form panel_tokens() uses.
template <int kParity>
EDGEFIT_AMX_INLINE void tile_product(const uint8_t* a, long stride, const int8_t* b, int32_t* c) {
  tile_compute<kParity>(a, stride, b);
  tile_store<kParity>(c);
}

// Up to 16 tokens (m; act = token 0's row) against one 16-row panel, all sub-blocks: the tile
// product of sub-block s is issued before the epilogue of s - 1, so the AMX unit and the vector
// units work side by side.
template <QFormat F>
void panel_tokens(const TileOf<F>* panel, int64_t n_sub, const uint8_t* act, size_t act_stride,
                  size_t plain_off, int m, LaneAcc& acc, int32_t (*ring)[kTileTokens * 16]) {
  constexpr int kSubBytes = qformat_info(F).lane_len;
  const uint8_t* plain = act + plain_off;
  const auto stride = static_cast<long>(act_stride);
  auto epilogue_of = [&](int64_t s) {
    if (s < 16) {
      epilogue<F, true>(ring[s % 2], panel[s], act, act_stride, m, s, acc);
    } else {
      epilogue<F, false>(ring[s % 2], panel[s], act, act_stride, m, s, acc);
    }
  };
  // Lanes no sub-block reaches (rows of fewer than 16) still take part in the fold.
  for (int64_t l = n_sub; l < 16; ++l)
    std::memset(acc.v[l], 0, sizeof(float) * kAmxRows * static_cast<size_t>(m));
  for (int64_t s = 0; s < n_sub; ++s) {
    if (s % 2 == 0) {
      tile_product<0>(plain + s * kSubBytes, stride, panel[s].q[0][0], ring[0]);
    } else {
      tile_product<1>(plain + s * kSubBytes, stride, panel[s].q[0][0], ring[1]);
    }
    if (s > 0) epilogue_of(s - 1);
  }
  epilogue_of(n_sub - 1);
}

// ---------------------------------------------------------------- 16 tokens' parameters

// The activation scales of 16 tokens side by side per sub-block, [sub-block][token] (d), and for
// Q4_K their Σ as floats (sum; exact: |Σ| ≤ 32 · 127), gathered once per 16-token tile for all the
// panels of a group: the epilogue then reads token t's values at a fixed offset from one pointer,
// a broadcast operand of its multiply, instead of a row pointer per token (16 of them do not fit
// in the general registers; GCC reloaded them from the stack) and a scalar convert and shuffle
// per Σ.
struct TokenParams {
  float* d;    // [sub-block][token]: the token's activation scale of that sub-block
  float* sum;  // [sub-block][token]: the token's Σ of that sub-block's quants (Q4_K only)
};

template <QFormat F>
size_t token_param_bytes(int64_t n) {
  return static_cast<size_t>(n_chunks(F, n)) * 16 * kTileTokens * sizeof(float) *
         (qformat_info(F).has_min ? 2 : 1);
}

// A chunk's 16 lanes of 16 tokens are one 16×16 transpose.
template <QFormat F>
void gather_token_params(const uint8_t* act, size_t act_stride, int64_t n, TokenParams tp) {
  for (int64_t c = 0; c < n_chunks(F, n); ++c) {
    __m512i v[kTileTokens];
    for (int t = 0; t < kTileTokens; ++t)
      v[t] = _mm512_loadu_si512(act_chunk<F>(act, act_stride, t, 16 * c).d);
    transpose16x16(v);
    for (int l = 0; l < 16; ++l) _mm512_storeu_si512(tp.d + (16 * c + l) * kTileTokens, v[l]);
    if constexpr (qformat_info(F).has_min) {
      for (int t = 0; t < kTileTokens; ++t) {
        const __m512i sum = _mm512_loadu_si512(act_chunk<F>(act, act_stride, t, 16 * c).sum);
        v[t] = _mm512_castps_si512(_mm512_cvtepi32_ps(sum));
      }
      transpose16x16(v);
      for (int l = 0; l < 16; ++l) _mm512_storeu_si512(tp.sum + (16 * c + l) * kTileTokens, v[l]);
    }
  }
}

// Sub-block s's sums (c: 16 rows of 16 int32, one per token) into the register accumulators a of
// its lane, one per token: epilogue() without the load and store of each accumulator. d, sum:
// the sub-block's row of TokenParams.
template <QFormat F>
EDGEFIT_AMX_INLINE void epilogue_regs(const int32_t* c, const TileOf<F>& tile, const float* d,
                                      const float* sum, __m512 (&a)[kTileTokens]) {
  const RowParams<F> w(tile);
#pragma GCC unroll 16
  for (int t = 0; t < kTileTokens; ++t)
    a[t] = lane_step<F>(c + 16 * t, w, d[t], qformat_info(F).has_min ? sum[t] : 0.f, a[t]);
}

// ---------------------------------------------------------------- Q6_K: d_row · d_act once

// Q6_K's 16 sub-blocks of a chunk are one super-block: one d per row and, the activations being
// Q8_K, one scale per token. So d_row · d_act, which lane_step() multiplies for every sub-block,
// is the same 16 vectors for the whole chunk: q6k_factors() computes them once per chunk and
// 16-token tile ([chunk][token][row]), and the epilogue takes them as fma operands. A multiply
// fewer per token and sub-block, the same floats, so the same bits. (Q4_K's super-blocks share
// them too, but with dmin · d_act as well, two loads more per token made Q4_K 10-15 % slower:
// docs/runtime.md.)
template <QFormat F>
constexpr bool kFactorsOnce = F == QFormat::kQ6_K;

// Bytes of one panel's factors against 16 tokens.
size_t q6k_factor_bytes(int64_t n_sub) {
  return static_cast<size_t>((n_sub + 15) / 16) * kTileTokens * kAmxRows * sizeof(float);
}

// tok_d: TokenParams::d of the tile.
void q6k_factors(const TileOf<QFormat::kQ6_K>* panel, int64_t n_sub, const float* tok_d,
                 float* dd) {
  for (int64_t s = 0; s < n_sub; s += 16) {
    const __m512 wd = _mm512_load_ps(panel[s].d);
    for (int t = 0; t < kTileTokens; ++t) {
      const __m512 ad = _mm512_set1_ps(tok_d[s * kTileTokens + t]);
      _mm512_store_ps(dd + (s / 16 * kTileTokens + t) * kAmxRows, _mm512_mul_ps(wd, ad));
    }
  }
}

// epilogue_regs() for Q6_K with its chunk's factors (dd: 16 tokens' vectors): a convert, the
// integer scale's multiply and an fma per token, on the same values as lane_step().
EDGEFIT_AMX_INLINE void epilogue_regs_q6k(const int32_t* c, const TileOf<QFormat::kQ6_K>& tile,
                                          const float* dd, __m512 (&a)[kTileTokens]) {
  const __m512 sc = _mm512_load_ps(tile.sc);
#pragma GCC unroll 16
  for (int t = 0; t < kTileTokens; ++t) {
    const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * t)), sc);
    a[t] = _mm512_fmadd_ps(_mm512_load_ps(dd + t * kAmxRows), x, a[t]);
  }
}

// A full tile of 16 tokens against one panel, lane by lane: lane l's sub-blocks l, l + 16, …
// one after another, so its 16 accumulators (one per token) stay in registers and are stored
// once per lane, not loaded and stored once per sub-block as panel_tokens() does (those stores
// share the store port with the tile stores of C). Lanes are independent sums, so visiting them
// one by one keeps each lane's order, and the result is panel_tokens()'s bit for bit. The next
// sub-block's product is issued before this one's epilogue, and stored after it.
// tp: the 16 tokens' parameters (gather_token_params). Q6_K: factors = q6k_factor_bytes() of
// scratch for q6k_factors().
template <QFormat F>
void panel_full_tile(const TileOf<F>* panel, int64_t n_sub, const uint8_t* act, size_t act_stride,
                     size_t plain_off, LaneAcc& acc, int32_t (*ring)[kTileTokens * 16],
                     TokenParams tp, float* factors) {
  constexpr int kSubBytes = qformat_info(F).lane_len;
  const uint8_t* plain = act + plain_off;
  const auto stride = static_cast<long>(act_stride);
  const int64_t lanes = n_sub < 16 ? n_sub : 16;
  if constexpr (kFactorsOnce<F>) q6k_factors(panel, n_sub, tp.d, factors);
  for (int64_t l = lanes; l < 16; ++l) std::memset(acc.v[l], 0, sizeof(acc.v[l]));
  // compute(): the tile product of sub-block s in tile set `slot`; store(): it into ring[slot].
  auto compute = [&](int64_t s, int slot) {
    if (slot == 0) {
      tile_compute<0>(plain + s * kSubBytes, stride, panel[s].q[0][0]);
    } else {
      tile_compute<1>(plain + s * kSubBytes, stride, panel[s].q[0][0]);
    }
  };
  auto store = [&](int slot) {
    if (slot == 0) {
      tile_store<0>(ring[0]);
    } else {
      tile_store<1>(ring[1]);
    }
  };
  int slot = 0;  // the ring slot holding the sums of the sub-block whose epilogue comes next
  compute(0, slot);
  store(slot);
  for (int64_t l = 0; l < lanes; ++l) {
    __m512 a[kTileTokens];  // the lane's accumulators, one per token: from +0, as every table
    for (int t = 0; t < kTileTokens; ++t) a[t] = _mm512_setzero_ps();
    for (int64_t s = l; s < n_sub; s += 16) {
      const int64_t next = s + 16 < n_sub ? s + 16 : l + 1 < lanes ? l + 1 : -1;
      if (next >= 0) compute(next, 1 - slot);
      if constexpr (kFactorsOnce<F>) {
        epilogue_regs_q6k(ring[slot], panel[s], factors + s / 16 * kTileTokens * kAmxRows, a);
      } else {
        epilogue_regs<F>(ring[slot], panel[s], tp.d + s * kTileTokens, tp.sum + s * kTileTokens, a);
      }
      if (next >= 0) store(1 - slot);
      slot = 1 - slot;
    }
    for (int t = 0; t < kTileTokens; ++t) _mm512_store_ps(acc.v[l][t], a[t]);
  }
}

template <QFormat F>
void gemm_amx(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
              size_t act_stride, int64_t n_tok, float* y, int64_t ys) {
  if (n_tok < kMinAmxTokens<F>) {
    vnni_packed<F>().gemm(n, w, w_stride, n_rows, act, act_stride, n_tok, y, ys);
    return;
  }
  constexpr int kSubBytes = qformat_info(F).lane_len;
  const int64_t n_sub = n / kSubBytes;
  const size_t panel_size = static_cast<size_t>(n_sub) * sizeof(TileOf<F>);
  constexpr size_t kRingBytes = 2 * kTileTokens * 16 * sizeof(int32_t);
  const int64_t n_panels = (n_rows + kAmxRows - 1) / kAmxRows;
  const int64_t group = n_panels < kPanelGroup ? n_panels : kPanelGroup;
  // One scratch: the group's panels, the ring of C slots, the accumulators, the 16 tokens'
  // parameters, Q6_K's factors (all 64-byte multiples).
  const size_t token_bytes = token_param_bytes<F>(n);
  const size_t factor_bytes = kFactorsOnce<F> ? q6k_factor_bytes(n_sub) : 0;
  auto* scratch = static_cast<uint8_t*>(
      thread_scratch(group * panel_size + kRingBytes + sizeof(LaneAcc) + token_bytes + factor_bytes,
                     ScratchSlot::kPanel));
  uint8_t* after_panels = scratch + group * panel_size;
  auto* ring = reinterpret_cast<int32_t(*)[kTileTokens * 16]>(after_panels);
  auto& acc = *reinterpret_cast<LaneAcc*>(after_panels + kRingBytes);
  auto* token_floats = reinterpret_cast<float*>(after_panels + kRingBytes + sizeof(LaneAcc));
  const TokenParams tp{token_floats, token_floats + n_chunks(F, n) * 16 * kTileTokens};
  auto* factors =
      reinterpret_cast<float*>(after_panels + kRingBytes + sizeof(LaneAcc) + token_bytes);
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(act);
  const size_t plain_off = panel_bytes<F>(n);
  int configured = 0;  // token rows of the loaded tile configuration (0: none yet)
  for (int64_t p0 = 0; p0 < n_panels; p0 += group) {
    const int64_t p1 = p0 + group < n_panels ? p0 + group : n_panels;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t r0 = p * kAmxRows;
      const int rows = n_rows - r0 < kAmxRows ? static_cast<int>(n_rows - r0) : kAmxRows;
      build_amx_panel(F, wb + r0 * w_stride, w_stride, rows, n, scratch + (p - p0) * panel_size);
    }
    for (int64_t t0 = 0; t0 < n_tok; t0 += kTileTokens) {
      const int m = n_tok - t0 < kTileTokens ? static_cast<int>(n_tok - t0) : kTileTokens;
      if (m != configured) {  // 16 tokens, then the remainder
        const TileConfig cfg = tile_config(m, kSubBytes);
        _tile_loadconfig(&cfg);
        configured = m;
      }
      if (m == kTileTokens) gather_token_params<F>(ab + t0 * act_stride, act_stride, n, tp);
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t r0 = p * kAmxRows;
        const int rows = n_rows - r0 < kAmxRows ? static_cast<int>(n_rows - r0) : kAmxRows;
        const auto* panel = reinterpret_cast<const TileOf<F>*>(scratch + (p - p0) * panel_size);
        if (m == kTileTokens) {
          panel_full_tile<F>(panel, n_sub, ab + t0 * act_stride, act_stride, plain_off, acc, ring,
                             tp, factors);
        } else {
          panel_tokens<F>(panel, n_sub, ab + t0 * act_stride, act_stride, plain_off, m, acc, ring);
        }
        fold_store(acc, m, rows, y + t0 * ys + r0, ys);
      }
    }
  }
  _tile_release();  // the tile state is large: do not keep it across context switches
}

// A packed format's AMX kernels: the VNNI entry (its vec_dot reads the panel part of the row)
// with the AMX gemm on the extended activation rows. weight_type and packing are derived from F,
// so an entry set under another format's slot fails the slot test (kernels_dot_test).
template <QFormat F>
FormatKernels amx_kernels() {
  FormatKernels k = vnni_packed<F>();
  k.weight_type = qformat_dtype(F);
  k.packing = qformat_packing(F);
  k.act_row_bytes = amx_act_bytes<F>;
  k.prepare_act = amx_prep<F>;
  k.gemm = gemm_amx<F>;
  return k;
}

// Every slot of the VNNI table (all formats, ggml layout and packed), with the packed integer
// gemms replaced by the AMX ones.
KernelDispatch make_table() {
  KernelDispatch kd = avx512vnni_dispatch();
  kd.isa = Isa::kAvx512Amx;
  kd.isa_name = isa_name(Isa::kAvx512Amx);
  kd.set(kPackedSlot<QFormat::kQ8_0>, amx_kernels<QFormat::kQ8_0>())
      .set(kPackedSlot<QFormat::kQ4_0>, amx_kernels<QFormat::kQ4_0>())
      .set(kPackedSlot<QFormat::kQ4_K>, amx_kernels<QFormat::kQ4_K>())
      .set(kPackedSlot<QFormat::kQ6_K>, amx_kernels<QFormat::kQ6_K>());
  return kd;
}

}  // namespace

const KernelDispatch& avx512amx_dispatch() {
  static const KernelDispatch kd = make_table();
  return kd;
}

}  // namespace edgefit::kernels::detail
