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
// Tile throughput: a tile product takes ~16 cycles whatever its K, so K = 32 (16 for Q6_K) uses
// half (a quarter) of the TMUL's peak; the epilogue (a convert, a multiply, an fma, and for the
// k-quants a scale multiply and the min term, per 16 results) is the longer part anyway.
#include <cstring>

#include "kernels/amx_panel.h"
#include "kernels/amx_tiles.h"
#include "kernels/isa_tables.h"

namespace edgefit::kernels::detail {
namespace {

// Fewer tokens than this go to the VNNI kernels: building a panel costs about a transpose per 16
// rows × 512 weights, which a handful of tokens does not repay.
constexpr int64_t kMinAmxTokens = 4;

constexpr int kTileTokens = 16;  // tokens per tile product (M; also the C tile's rows)

// The 64-byte operand of ldtilecfg (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette = 1;        // palette 1: 8 tiles of up to 16 rows × 64 bytes
  uint8_t start_row = 0;      // restart point after an interrupted tile load/store
  uint8_t reserved[14] = {};  // must be zero
  uint16_t colsb[16] = {};    // bytes per row of tile i
  uint8_t rows[16] = {};      // rows of tile i
};
static_assert(sizeof(TileConfig) == 64, "ldtilecfg reads 64 bytes");

// Tiles used: A0/A1 activations, B0/B1 weights, C0/C1 sums (two sub-blocks in flight). GCC's tile
// intrinsics paste the tile number into the instruction text, so the calls below spell these as
// literals (tmm0 = A0, tmm1 = B0, tmm2 = C0, tmm3 = A1, tmm4 = B1, tmm5 = C1).
enum : int { kA0 = 0, kB0 = 1, kC0 = 2, kA1 = 3, kB1 = 4, kC1 = 5 };

TileConfig tile_config(int m_tokens, int sub_bytes) {
  TileConfig cfg;
  for (int a : {kA0, kA1}) {
    cfg.rows[a] = static_cast<uint8_t>(m_tokens);
    cfg.colsb[a] = static_cast<uint16_t>(sub_bytes);
  }
  for (int b : {kB0, kB1}) {
    cfg.rows[b] = static_cast<uint8_t>(sub_bytes / 4);
    cfg.colsb[b] = 64;
  }
  for (int c : {kC0, kC1}) {
    cfg.rows[c] = static_cast<uint8_t>(m_tokens);
    cfg.colsb[c] = 64;
  }
  return cfg;
}

template <QFormat F>
constexpr int kG = qformat_info(F).groups;
template <QFormat F>
using TileOf = AmxWeightTile<kG<F>>;
template <QFormat F>
using AChunkOf = AChunk<kG<F>>;

// The VNNI table's kernels for the same packing: the one-token path and small token counts.
template <QFormat F>
GemmFn vnni_packed_gemm() {
  const KernelDispatch& v = avx512vnni_dispatch();
  if constexpr (F == QFormat::kQ8_0) return v.q8_0_x16.gemm;
  if constexpr (F == QFormat::kQ4_0) return v.q4_0_x16.gemm;
  if constexpr (F == QFormat::kQ4_K) return v.q4_k_x2.gemm;
  if constexpr (F == QFormat::kQ6_K) return v.q6_k_x1.gemm;
  return nullptr;
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
// 64G·c + 4G·l. Lane l's quads are gathered by the same 16×16 transpose the weights use.
template <QFormat F>
void append_plain(int64_t n, void* out) {
  constexpr int G = kG<F>;
  const auto* a = static_cast<const AChunkOf<F>*>(out);
  uint8_t* plain = static_cast<uint8_t*>(out) + panel_bytes<F>(n);
  for (int64_t c = 0; c < n_chunks(F, n); ++c) {
    __m512i v[16];
    for (int g = 0; g < 16; ++g)
      v[g] = g < G ? _mm512_load_si512(a[c].q[g]) : _mm512_setzero_si512();
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

template <PrepareActFn Panel, QFormat F>
void amx_prep(const float* x, int64_t n, void* out) {
  Panel(x, n, out);
  append_plain<F>(n, out);
}

// ---------------------------------------------------------------- gemm

// Accumulators: facc[t][lane][row], 16 rows per vector.
struct FloatAcc {
  float v[kTileTokens][16][kAmxRows];  // token t, lane k % 16, weight row
};

// Sub-block s's sums (C rows, one per token) into the lane s % 16 accumulators of each token.
template <QFormat F>
inline void epilogue(const int32_t* cbuf, const TileOf<F>& tile, const uint8_t* act,
                     size_t act_stride, int m, int64_t s, FloatAcc& acc) {
  constexpr QFormatInfo fi = qformat_info(F);
  const int lane = static_cast<int>(s % 16);
  const size_t chunk_off = static_cast<size_t>(s / 16) * sizeof(AChunkOf<F>);
  const __m512 wd = _mm512_load_ps(tile.d);
  for (int t = 0; t < m; ++t) {
    const auto* ac = reinterpret_cast<const AChunkOf<F>*>(act + t * act_stride + chunk_off);
    const __m512 ad = _mm512_set1_ps(ac->d[lane]);
    __m512 x = _mm512_cvtepi32_ps(_mm512_load_si512(cbuf + 16 * t));
    if constexpr (fi.has_scale) x = _mm512_mul_ps(x, _mm512_load_ps(tile.sc));
    float* f = acc.v[t][lane];
    __m512 a = _mm512_fmadd_ps(_mm512_mul_ps(wd, ad), x, _mm512_load_ps(f));
    if constexpr (fi.has_min) {
      const __m512 mt =
          _mm512_mul_ps(_mm512_load_ps(tile.m), _mm512_set1_ps(static_cast<float>(ac->sum[lane])));
      a = _mm512_fnmadd_ps(_mm512_mul_ps(_mm512_load_ps(tile.dmin), ad), mt, a);
    }
    _mm512_store_ps(f, a);
  }
}

// The 16 lanes of each token folded as reduce16 does, written to y for the first `rows` rows.
inline void fold_store(const FloatAcc& acc, int m, int rows, float* y, int64_t ys) {
  const __mmask16 k = static_cast<__mmask16>((1u << rows) - 1);
  for (int t = 0; t < m; ++t) {
    __m512 b[8], c[4];
    for (int i = 0; i < 8; ++i)
      b[i] = _mm512_add_ps(_mm512_load_ps(acc.v[t][i]), _mm512_load_ps(acc.v[t][i + 8]));
    for (int i = 0; i < 4; ++i) c[i] = _mm512_add_ps(b[i], b[i + 4]);
    const __m512 r = _mm512_add_ps(_mm512_add_ps(c[0], c[2]), _mm512_add_ps(c[1], c[3]));
    _mm512_mask_storeu_ps(y + t * ys, k, r);
  }
}

// Up to 16 tokens (m) against one 16-row panel, all sub-blocks. act points at token 0's row.
template <QFormat F>
void panel_tokens(const TileOf<F>* panel, int64_t n_sub, const uint8_t* act, size_t act_stride,
                  size_t plain_off, int m, FloatAcc& acc, int32_t (*cbuf)[kTileTokens * 16]) {
  constexpr int kSubBytes = qformat_info(F).lane_len;
  const uint8_t* plain = act + plain_off;
  std::memset(&acc, 0, sizeof(float) * 16 * kAmxRows * static_cast<size_t>(m));
  const auto stride = static_cast<long>(act_stride);
  for (int64_t s = 0; s < n_sub; s += 2) {
    // Two sub-blocks in flight: the second's tile product runs while the first is stored.
    _tile_zero(2);                                  // C0
    _tile_loadd(0, plain + s * kSubBytes, stride);  // A0
    _tile_loadd(1, panel[s].q, 64);                 // B0
    _tile_dpbssd(2, 0, 1);
    const bool two = s + 1 < n_sub;
    if (two) {
      _tile_zero(5);                                        // C1
      _tile_loadd(3, plain + (s + 1) * kSubBytes, stride);  // A1
      _tile_loadd(4, panel[s + 1].q, 64);                   // B1
      _tile_dpbssd(5, 3, 4);
    }
    _tile_stored(2, cbuf[0], 64);
    if (two) _tile_stored(5, cbuf[1], 64);
    epilogue<F>(cbuf[0], panel[s], act, act_stride, m, s, acc);
    if (two) epilogue<F>(cbuf[1], panel[s + 1], act, act_stride, m, s + 1, acc);
  }
}

template <QFormat F>
void gemm_amx(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
              size_t act_stride, int64_t n_tok, float* y, int64_t ys) {
  if (n_tok < kMinAmxTokens) {
    vnni_packed_gemm<F>()(n, w, w_stride, n_rows, act, act_stride, n_tok, y, ys);
    return;
  }
  constexpr int kSubBytes = qformat_info(F).lane_len;
  const int64_t n_sub = n / kSubBytes;
  const size_t panel_size = static_cast<size_t>(n_sub) * sizeof(TileOf<F>);
  // One scratch: the panel, the float accumulators, two C buffers (64-byte multiples each).
  auto* scratch = static_cast<uint8_t*>(
      thread_scratch(panel_size + sizeof(FloatAcc) + 2 * kTileTokens * 16 * sizeof(int32_t)));
  auto* panel = reinterpret_cast<TileOf<F>*>(scratch);
  auto& acc = *reinterpret_cast<FloatAcc*>(scratch + panel_size);
  auto* cbuf =
      reinterpret_cast<int32_t(*)[kTileTokens * 16]>(scratch + panel_size + sizeof(FloatAcc));
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(act);
  const size_t plain_off = panel_bytes<F>(n);
  int configured = 0;  // token rows of the loaded tile configuration (0: none yet)
  for (int64_t r0 = 0; r0 < n_rows; r0 += kAmxRows) {
    const int rows = n_rows - r0 < kAmxRows ? static_cast<int>(n_rows - r0) : kAmxRows;
    build_amx_panel(F, wb + r0 * w_stride, w_stride, rows, n, panel);
    for (int64_t t0 = 0; t0 < n_tok; t0 += kTileTokens) {
      const int m = n_tok - t0 < kTileTokens ? static_cast<int>(n_tok - t0) : kTileTokens;
      if (m != configured) {  // at most twice per call: 16 tokens, then the remainder
        const TileConfig cfg = tile_config(m, kSubBytes);
        _tile_loadconfig(&cfg);
        configured = m;
      }
      panel_tokens<F>(panel, n_sub, ab + t0 * act_stride, act_stride, plain_off, m, acc, cbuf);
      fold_store(acc, m, rows, y + t0 * ys + r0, ys);
    }
  }
  _tile_release();  // the tile state is large: do not keep it across context switches
}

// A packed format's AMX kernels: the VNNI vec_dot (it reads the panel part of the row) and the
// AMX gemm, on the extended activation rows.
template <QFormat F, PrepareActFn Panel>
FormatKernels amx_kernels(const FormatKernels& vnni) {
  FormatKernels k = vnni;
  k.act_row_bytes = amx_act_bytes<F>;
  k.prepare_act = amx_prep<Panel, F>;
  k.gemm = gemm_amx<F>;
  return k;
}

KernelDispatch make_table() {
  KernelDispatch kd = avx512vnni_dispatch();
  kd.isa = Isa::kAvx512Amx;
  kd.isa_name = isa_name(Isa::kAvx512Amx);
  kd.q8_0_x16 = amx_kernels<QFormat::kQ8_0, prep_avx512_q8_0_s128>(kd.q8_0_x16);
  kd.q4_0_x16 = amx_kernels<QFormat::kQ4_0, prep_avx512_q8_0_s8>(kd.q4_0_x16);
  kd.q4_k_x2 = amx_kernels<QFormat::kQ4_K, prep_avx512_k32_s1>(kd.q4_k_x2);
  kd.q6_k_x1 = amx_kernels<QFormat::kQ6_K, prep_avx512_k16_s32>(kd.q6_k_x1);
  return kd;
}

}  // namespace

const KernelDispatch& avx512amx_dispatch() {
  static const KernelDispatch kd = make_table();
  return kd;
}

}  // namespace edgefit::kernels::detail
