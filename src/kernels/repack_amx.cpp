// Weights into AMX tiles (amx_panel.h): 16 rows of a packed Q8_0 / Q4_0 / Q4_K / Q6_K matrix
// become one AmxWeightTile per sub-block, the B operand of tdpbssd. Compiled with AVX-512 flags;
// runs only after the AMX check.
//
// Why at gemm time and not at load. Decode reads the same weights with the AVX-512 VNNI gemv,
// whose packed chunks (kernels.h) keep one row's bytes together; a tile wants 16 rows' bytes of
// one sub-block together instead, and AMX has no 4-bit operand, so 4-bit weights must be widened
// to int8 before a tile load anyway. Keeping one copy in the decode layout (no second copy in
// memory, no new gemv) and widening 16 rows at a time into a per-thread panel costs, per 16 rows ×
// 512 weights, one 16×16 dword transpose per quad of a sub-block (8, or 4 for Q6_K) and one per
// scale field the format uses, once per gemm call: the panel then serves every token of the call
// (a prompt of 512 tokens reads it 32 times). That is why short prompts stay on VNNI
// (gemm_amx.cpp, kMinAmxTokens).
//
// Per chunk of 16 sub-blocks: each row's chunk is unpacked into signed levels with lane l =
// sub-block l (the packed layout is already "quad g, lane l"), then for each quad g the 16 rows'
// vectors are transposed so that lane n = row n: that vector is quad g of sub-block l's B tile.
// The per-lane scales go through the same transpose.
#include <cstring>

#include "kernels/amx_panel.h"
#include "kernels/kernels.h"

namespace edgefit::kernels::detail {
namespace {

// One chunk of one row unpacked: signed levels and float lane parameters, lane l = sub-block l.
template <int G>
struct alignas(64) RowChunk {
  __m512i q[G];  // quad g: levels of weights 4g..4g+3 of sub-block l in dword l
  __m512 d;      // lane scale
  __m512 dmin;   // lane min scale (Q4_K)
  __m512 sc;     // lane integer scale as float (k-quants; else 1)
  __m512 m;      // lane integer min as float (Q4_K; else 0)
};

inline __m512i ld512(const uint8_t* p) {
  return _mm512_loadu_si512(p);
}
inline __m512 fp16x16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

void set_plain_params(RowChunk<8>& r, __m512 d) {
  r.d = d;
  r.dmin = _mm512_setzero_ps();
  r.sc = _mm512_set1_ps(1.f);
  r.m = _mm512_setzero_ps();
}

// PackedQ8_0Chunk: quants stored + 128.
void unpack_q8_0(const uint8_t* b, RowChunk<8>& r) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int g = 0; g < 8; ++g)
    r.q[g] = _mm512_xor_si512(ld512(b + offsetof(PackedQ8_0Chunk, qs) + 64 * g), flip);
  set_plain_params(r, fp16x16(b + offsetof(PackedQ8_0Chunk, d)));
}

// The nibble bytes of PackedQ4_0Chunk / PackedQ4_KChunk: low nibbles quads 0-3, high 4-7, minus
// `offset` (8 for Q4_0; 0 for Q4_K, whose levels are 0..15).
void unpack_nibbles(const uint8_t* qs, int offset, RowChunk<8>& r) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), off = _mm512_set1_epi8(static_cast<char>(offset));
  for (int g = 0; g < 4; ++g) {
    const __m512i z = ld512(qs + 64 * g);
    r.q[g] = _mm512_sub_epi8(_mm512_and_si512(z, m4), off);
    r.q[g + 4] = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(z, 4), m4), off);
  }
}

void unpack_q4_0(const uint8_t* b, RowChunk<8>& r) {
  unpack_nibbles(b + offsetof(PackedQ4_0Chunk, qs), 8, r);
  set_plain_params(r, fp16x16(b + offsetof(PackedQ4_0Chunk, d)));
}

// PackedQ4_KChunk: lane l = sub-block l % 8 of super-block l / 8.
void unpack_q4_k(const uint8_t* b, RowChunk<8>& r) {
  PackedQ4_KChunk c;
  std::memcpy(&c, b, offsetof(PackedQ4_KChunk, qs));  // the scales; the quants are read below
  uint64_t m_hi;
  std::memcpy(&m_hi, c.m_hi, 8);
  alignas(64) float sc[16], m[16], d[16], dmin[16];
  const float d0 = _cvtsh_ss(c.d[0]), d1 = _cvtsh_ss(c.d[1]);
  const float dm0 = _cvtsh_ss(c.dmin[0]), dm1 = _cvtsh_ss(c.dmin[1]);
  for (int l = 0; l < 16; ++l) {
    sc[l] = static_cast<float>(c.sc[l] & 63);
    const int shift = (l % 2 ? 32 : 0) + 4 * (l / 2);
    m[l] = static_cast<float>((((m_hi >> shift) & 0xF) << 2) | (c.sc[l] >> 6));
    d[l] = l < 8 ? d0 : d1;
    dmin[l] = l < 8 ? dm0 : dm1;
  }
  unpack_nibbles(b + offsetof(PackedQ4_KChunk, qs), 0, r);
  r.d = _mm512_load_ps(d);
  r.dmin = _mm512_load_ps(dmin);
  r.sc = _mm512_load_ps(sc);
  r.m = _mm512_load_ps(m);
}

// PackedQ6_KChunk: quad g's low nibbles are one load and mask (high nibbles for g ≥ 2), its top
// 2 bits one shift and mask of qh; levels are stored + 32.
void unpack_q6_k(const uint8_t* b, RowChunk<4>& r) {
  uint16_t d;
  std::memcpy(&d, b + offsetof(PackedQ6_KChunk, d), 2);
  const uint8_t* ql = b + offsetof(PackedQ6_KChunk, ql);
  const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  const __m512i l0 = ld512(ql), l1 = ld512(ql + 64), h = ld512(b + offsetof(PackedQ6_KChunk, qh));
  const __m512i off = _mm512_set1_epi8(32);
  // 0xEA: (a & b) | c.
  r.q[0] = _mm512_ternarylogic_epi32(l0, m4, _mm512_and_si512(_mm512_slli_epi16(h, 4), m30), 0xEA);
  r.q[1] = _mm512_ternarylogic_epi32(l1, m4, _mm512_and_si512(_mm512_slli_epi16(h, 2), m30), 0xEA);
  r.q[2] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l0, 4), m4, _mm512_and_si512(h, m30), 0xEA);
  r.q[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l1, 4), m4,
                                     _mm512_and_si512(_mm512_srli_epi16(h, 2), m30), 0xEA);
  for (int g = 0; g < 4; ++g) r.q[g] = _mm512_sub_epi8(r.q[g], off);
  const __m128i scales =
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + offsetof(PackedQ6_KChunk, scales)));
  r.d = _mm512_set1_ps(_cvtsh_ss(d));
  r.dmin = _mm512_setzero_ps();
  r.sc = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(scales));
  r.m = _mm512_setzero_ps();
}

// A partial last chunk (ggml's layout, also in packed rows): the portable unpacker with offset 0
// stores the signed levels as bytes; padding lanes are zero.
template <int G>
void unpack_partial(QFormat f, const uint8_t* row, int64_t n, int64_t c, RowChunk<G>& r) {
  WChunk<G> tmp;
  unpack_chunk_ref(f, row, n, c, 0, &tmp);
  for (int g = 0; g < G; ++g) r.q[g] = _mm512_load_si512(tmp.q[g]);
  r.d = _mm512_load_ps(tmp.d);
  r.dmin = _mm512_load_ps(tmp.dmin);
  r.sc = _mm512_cvtepi32_ps(_mm512_load_si512(tmp.sc));
  r.m = _mm512_cvtepi32_ps(_mm512_load_si512(tmp.m));
}

template <int G>
void unpack_row_chunk(QFormat f, const uint8_t* row, int64_t n, int64_t c, RowChunk<G>& r) {
  if ((c + 1) * chunk_elems(f) > n) {
    unpack_partial<G>(f, row, n, c, r);
    return;
  }
  const int64_t chunk_bytes =
      chunk_elems(f) / qformat_info(f).block_elems * qformat_info(f).block_bytes;
  const uint8_t* b = row + c * chunk_bytes;
  if constexpr (G == 8) {
    if (f == QFormat::kQ8_0) unpack_q8_0(b, r);
    if (f == QFormat::kQ4_0) unpack_q4_0(b, r);
    if (f == QFormat::kQ4_K) unpack_q4_k(b, r);
  } else {
    unpack_q6_k(b, r);
  }
}

// 16 rows' lane vectors (lane = sub-block) → per sub-block l < n_sub a vector over rows, stored
// at tiles[l] + field_offset.
template <int G>
void scatter_transposed(__m512i* v, AmxWeightTile<G>* tiles, int n_sub, size_t field_offset) {
  transpose16x16(v);
  for (int l = 0; l < n_sub; ++l)
    _mm512_store_si512(reinterpret_cast<uint8_t*>(&tiles[l]) + field_offset, v[l]);
}

template <int G>
void build_panel(QFormat f, const uint8_t* w, size_t w_stride, int rows, int64_t n,
                 AmxWeightTile<G>* tiles) {
  using Tile = AmxWeightTile<G>;
  const int lane_len = qformat_info(f).lane_len;
  const int64_t total_sub = n / lane_len;
  RowChunk<G> rc[kAmxRows];
  for (int64_t c = 0; c < n_chunks(f, n); ++c) {
    for (int r = 0; r < kAmxRows; ++r) {
      if (r < rows) {
        unpack_row_chunk<G>(f, w + r * w_stride, n, c, rc[r]);
      } else {  // rows past the matrix: zero levels and scales, so they add nothing
        for (int g = 0; g < G; ++g) rc[r].q[g] = _mm512_setzero_si512();
        rc[r].d = rc[r].dmin = rc[r].sc = rc[r].m = _mm512_setzero_ps();
      }
    }
    const int n_sub = static_cast<int>(total_sub - 16 * c < 16 ? total_sub - 16 * c : 16);
    Tile* t = tiles + 16 * c;
    __m512i v[kAmxRows];
    for (int g = 0; g < G; ++g) {
      for (int r = 0; r < kAmxRows; ++r) v[r] = rc[r].q[g];
      scatter_transposed<G>(v, t, n_sub, offsetof(Tile, q) + 64 * static_cast<size_t>(g));
    }
    for (int r = 0; r < kAmxRows; ++r) v[r] = _mm512_castps_si512(rc[r].d);
    scatter_transposed<G>(v, t, n_sub, offsetof(Tile, d));
    // The epilogue reads the integer scale of the k-quants and the min terms of Q4_K only; the
    // other fields of those tiles are left unwritten.
    if (qformat_info(f).has_scale) {
      for (int r = 0; r < kAmxRows; ++r) v[r] = _mm512_castps_si512(rc[r].sc);
      scatter_transposed<G>(v, t, n_sub, offsetof(Tile, sc));
    }
    if (qformat_info(f).has_min) {
      for (int r = 0; r < kAmxRows; ++r) v[r] = _mm512_castps_si512(rc[r].dmin);
      scatter_transposed<G>(v, t, n_sub, offsetof(Tile, dmin));
      for (int r = 0; r < kAmxRows; ++r) v[r] = _mm512_castps_si512(rc[r].m);
      scatter_transposed<G>(v, t, n_sub, offsetof(Tile, m));
    }
  }
}

}  // namespace

void build_amx_panel(QFormat f, const uint8_t* w, size_t w_stride, int rows, int64_t n, void* out) {
  if (qformat_info(f).groups == 8) {
    build_panel<8>(f, w, w_stride, rows, n, static_cast<AmxWeightTile<8>*>(out));
  } else {
    build_panel<4>(f, w, w_stride, rows, n, static_cast<AmxWeightTile<4>*>(out));
  }
}

}  // namespace edgefit::kernels::detail
