// AVX-512 VNNI quantized gemm: unpacks a task's weight rows once into a per-thread panel of
// GemmChunks (avx512vnni_kernels.h), then walks it in token blocks with the register tiles of
// gemm_q_4x3_avx512vnni.cpp; one token goes to the gemv (gemv_q_avx512vnni.cpp). Also the
// table's fast unpacker (avx512vnni_unpack), the same unpack without the panel's float fields.
#include "kernels/unpack_avx512vnni.inc"

namespace edgefit::kernels::detail {
namespace {

constexpr int64_t kPanelRows = 64;  // rows unpacked at once: a matmul task (matmul.cpp)

// Tokens per block of the quantized gemm, whose activations stay in L2 while the panel's rows
// walk them: a whole number of register tiles, so a 512-token prompt has one partial tile (8
// blocks of 63, then 3 + 3 + 2) instead of a 1-token tile per 64-token block (tile<Q4_K, 4, 1>:
// ~3 % of the Q4_K tile samples for 1/64 of the tokens).
constexpr int64_t kQTokBlock = 21 * kTileTokens;

template <int G>
inline void store_panel(const WRegs<G>& w, GemmChunk<G>* out) {
  for (int g = 0; g < G; ++g) _mm512_store_si512(out->q[g], w.q[g]);
  _mm512_store_ps(out->d, w.d);
  _mm512_store_ps(out->dmin, w.dmin);
  _mm512_store_ps(out->sc, _mm512_cvtepi32_ps(w.sc));
  _mm512_store_ps(out->m, _mm512_cvtepi32_ps(w.m));
}

template <QFormat F>
void unpack_chunk(const uint8_t* row, int64_t n, int64_t c, WChunkOf<F>* out) {
  WRegsOf<F> regs;
  unpack_regs<F>(row, n, c, regs);
  store_regs(regs, out);
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

}  // namespace

template <QFormat F, bool kPacked>
void avx512vnni_gemm_q(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
                       size_t act_stride, int64_t n_tok, float* y, int64_t ys) {
  using WC = GemmChunkOf<F>;
  using AC = AChunkOf<F>;
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(act);
  if (n_tok == 1) {
    avx512vnni_gemv_q<F, kPacked>(n, wb, w_stride, n_rows, reinterpret_cast<const AC*>(ab), y);
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
        avx512vnni_gemm_tiles<F>(wr, rn, ab, act_stride, t0, t1, nc, y + p0 + r0, ys);
      }
    }
  }
}

UnpackChunkFn avx512vnni_unpack() {
  return unpack_any;
}

#define EDGEFIT_INSTANTIATE(F, kPacked)                 \
  template void avx512vnni_gemm_q<QFormat::F, kPacked>( \
      int64_t, const void*, size_t, int64_t, const void*, size_t, int64_t, float*, int64_t);
#define EDGEFIT_UNPACKED(F) EDGEFIT_INSTANTIATE(F, false)
#define EDGEFIT_PACKED(F) EDGEFIT_INSTANTIATE(F, true)
EDGEFIT_AVX512VNNI_QFORMATS(EDGEFIT_UNPACKED)
EDGEFIT_AVX512VNNI_PACKED_QFORMATS(EDGEFIT_PACKED)

}  // namespace edgefit::kernels::detail
