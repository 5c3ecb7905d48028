// Weight repacking at load time (kernels.h): ggml rows → packed chunk rows of the same bytes, and
// back. Each quantized format has a pair of chunk functions (pack: ggml bytes → chunk, unpack: the
// inverse); everything else (rows, tails, threads) is shared. The float packings move whole runs
// of weights between 4 rows instead (interleave_group / the row's runs in unpack_packed_row).
#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <type_traits>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "kernels/panel.h"
#include "quant/q_sparse.h"
#include "quant/quant_traits.h"

namespace edgefit::kernels {

namespace {

using detail::kLanes;
using quant::BlockQ4_0;
using quant::BlockQ4_K;
using quant::BlockQ6_K;
using quant::BlockQ8_0;

// ---------------------------------------------------------------- Q4_0, Q8_0: 16 blocks

// Both chunks hold qs[G][16][4] = byte 4g+k of block l's qs (XOR kFlip) and d[16]: Q4_0 with
// G = 4 and its nibble bytes as they are, Q8_0 with G = 8 and its quants + 128 (XOR 0x80).
template <class Block, class Chunk, uint8_t kFlip>
void pack_x16(const uint8_t* src, uint8_t* dst) {
  Block blocks[kLanes];
  std::memcpy(blocks, src, sizeof blocks);
  Chunk c;
  for (int l = 0; l < kLanes; ++l) {
    for (size_t i = 0; i < sizeof blocks[l].qs; ++i)
      c.qs[i / 4][l][i % 4] = static_cast<uint8_t>(blocks[l].qs[i]) ^ kFlip;
    c.d[l] = blocks[l].d;
  }
  std::memcpy(dst, &c, sizeof c);
}

template <class Block, class Chunk, uint8_t kFlip>
void unpack_x16(const uint8_t* src, uint8_t* dst) {
  Chunk c;
  std::memcpy(&c, src, sizeof c);
  Block blocks[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    for (size_t i = 0; i < sizeof blocks[l].qs; ++i) {
      blocks[l].qs[i] = static_cast<std::remove_reference_t<decltype(blocks[l].qs[i])>>(
          c.qs[i / 4][l][i % 4] ^ kFlip);
    }
    blocks[l].d = c.d[l];
  }
  std::memcpy(dst, blocks, sizeof blocks);
}

constexpr auto pack_q4_0 = pack_x16<BlockQ4_0, PackedQ4_0Chunk, 0>;
constexpr auto unpack_q4_0 = unpack_x16<BlockQ4_0, PackedQ4_0Chunk, 0>;
constexpr auto pack_q8_0 = pack_x16<BlockQ8_0, PackedQ8_0Chunk, 0x80>;
constexpr auto unpack_q8_0 = unpack_x16<BlockQ8_0, PackedQ8_0Chunk, 0x80>;

// ---------------------------------------------------------------- Q4_K: 2 super-blocks

// Bit position of lane l's min bits 2-5 in PackedQ4_KChunk::m_hi (a multiple of 4: one nibble).
int q4_k_m_hi_bit(int l) {
  return 32 * (l % 2) + 4 * (l / 2);
}

// Weight i (0..31) of sub-block j of a Q4_K block lives in qs byte 32·(j/2) + i, nibble j % 2.
uint8_t& q4_k_byte(BlockQ4_K& b, int j, int i) {
  return b.qs[32 * (j / 2) + i];
}

void pack_q4_k(const uint8_t* src, uint8_t* dst) {
  BlockQ4_K b[2];
  std::memcpy(b, src, sizeof b);
  PackedQ4_KChunk c;
  std::memset(c.m_hi, 0, sizeof c.m_hi);
  for (int l = 0; l < kLanes; ++l) {
    BlockQ4_K& sb = b[l / 8];
    const int j = l % 8, shift = 4 * (j % 2);
    for (int i = 0; i < 16; ++i) {
      const int lo = (q4_k_byte(sb, j, i) >> shift) & 0xF;
      const int hi = (q4_k_byte(sb, j, i + 16) >> shift) & 0xF;
      c.qs[i / 4][l][i % 4] = static_cast<uint8_t>(lo | hi << 4);
    }
    int sc, m;
    detail::scale_min_k4(j, sb.scales, &sc, &m);
    c.sc[l] = static_cast<uint8_t>(sc | (m & 3) << 6);
    const int bit = q4_k_m_hi_bit(l);
    c.m_hi[bit / 8] |= static_cast<uint8_t>((m >> 2) << (bit % 8));
  }
  for (int s = 0; s < 2; ++s) {
    c.d[s] = b[s].d;
    c.dmin[s] = b[s].dmin;
  }
  std::memcpy(dst, &c, sizeof c);
}

void unpack_q4_k(const uint8_t* src, uint8_t* dst) {
  PackedQ4_KChunk c;
  std::memcpy(&c, src, sizeof c);
  BlockQ4_K b[2];
  std::memset(b, 0, sizeof b);
  for (int l = 0; l < kLanes; ++l) {
    BlockQ4_K& sb = b[l / 8];
    const int j = l % 8, shift = 4 * (j % 2);
    for (int i = 0; i < 16; ++i) {
      const uint8_t byte = c.qs[i / 4][l][i % 4];
      q4_k_byte(sb, j, i) |= static_cast<uint8_t>((byte & 0xF) << shift);
      q4_k_byte(sb, j, i + 16) |= static_cast<uint8_t>((byte >> 4) << shift);
    }
    // The inverse of get_scale_min_k4: sub-blocks 0-3 keep 6 bits in bytes j and j+4; 4-7 keep
    // their low nibbles in byte j+4 and their top 2 bits in the spare bits of bytes j-4 and j.
    const int sc = c.sc[l] & 63;
    const int bit = q4_k_m_hi_bit(l);
    const int m = (c.sc[l] >> 6) | ((c.m_hi[bit / 8] >> (bit % 8)) & 0xF) << 2;
    if (j < 4) {
      sb.scales[j] |= static_cast<uint8_t>(sc);
      sb.scales[j + 4] |= static_cast<uint8_t>(m);
    } else {
      sb.scales[j + 4] = static_cast<uint8_t>((sc & 0xF) | (m & 0xF) << 4);
      sb.scales[j - 4] |= static_cast<uint8_t>((sc >> 4) << 6);
      sb.scales[j] |= static_cast<uint8_t>((m >> 4) << 6);
    }
  }
  for (int s = 0; s < 2; ++s) {
    b[s].d = c.d[s];
    b[s].dmin = c.dmin[s];
  }
  std::memcpy(dst, b, sizeof b);
}

// ---------------------------------------------------------------- Q6_K: 1 super-block

// Where ggml keeps 6-bit weight i (0..255) of a Q6_K block (dequantize_row_q6_K): its low nibble
// at bit lo_shift of ql[lo_byte], its top 2 bits at bit hi_shift of qh[hi_byte].
struct Q6KBits {
  int lo_byte, lo_shift, hi_byte, hi_shift;
};
Q6KBits q6_k_bits(int i) {
  const int h = i / 128, l = i % 128, k = l / 32, ll = l % 32;
  return {64 * h + ll + 32 * (k & 1), k >= 2 ? 4 : 0, 32 * h + ll, 2 * k};
}

void pack_q6_k(const uint8_t* src, uint8_t* dst) {
  BlockQ6_K b;
  std::memcpy(&b, src, sizeof b);
  PackedQ6_KChunk c;
  std::memset(&c, 0, sizeof c);
  for (int l = 0; l < kLanes; ++l) {
    for (int i = 0; i < 16; ++i) {
      const Q6KBits at = q6_k_bits(16 * l + i);
      const int lo = (b.ql[at.lo_byte] >> at.lo_shift) & 0xF,
                hi = (b.qh[at.hi_byte] >> at.hi_shift) & 3;
      const int g = i / 4, k = i % 4;
      c.ql[g % 2][l][k] |= static_cast<uint8_t>(lo << (4 * (g / 2)));
      c.qh[l][k] |= static_cast<uint8_t>(hi << (2 * g));
    }
  }
  std::memcpy(c.scales, b.scales, sizeof c.scales);
  c.d = b.d;
  std::memcpy(dst, &c, sizeof c);
}

void unpack_q6_k(const uint8_t* src, uint8_t* dst) {
  PackedQ6_KChunk c;
  std::memcpy(&c, src, sizeof c);
  BlockQ6_K b;
  std::memset(&b, 0, sizeof b);
  for (int l = 0; l < kLanes; ++l) {
    for (int i = 0; i < 16; ++i) {
      const int g = i / 4, k = i % 4;
      const int lo = (c.ql[g % 2][l][k] >> (4 * (g / 2))) & 0xF, hi = (c.qh[l][k] >> (2 * g)) & 3;
      const Q6KBits at = q6_k_bits(16 * l + i);
      b.ql[at.lo_byte] |= static_cast<uint8_t>(lo << at.lo_shift);
      b.qh[at.hi_byte] |= static_cast<uint8_t>(hi << at.hi_shift);
    }
  }
  std::memcpy(b.scales, c.scales, sizeof b.scales);
  b.d = c.d;
  std::memcpy(dst, &b, sizeof b);
}

// ---------------------------------------------------------------- Q4_2OF4: 1 block

// Level (+ 8) of kept value e (0-31) of a Q4_0 value block: read, and or-ed into a cleared one.
int value_level(const BlockQ4_0& v, int e) {
  return (v.qs[e % 16] >> (e < 16 ? 0 : 4)) & 0xF;
}
void set_value_level(BlockQ4_0& v, int e, int level) {
  v.qs[e % 16] |= static_cast<uint8_t>(level << (e < 16 ? 0 : 4));
}

// Group lane l of register k (dword lane l: 2:4 group 4k + l / 4 of quarter l % 4) as fn(group
// g of the block, value block v, index e of the group's first kept value in v). Kept weights
// come in mask bit order, so the group's two are the register's kept weights 2l and 2l + 1.
template <typename Fn>
void for_each_packed_group(int k, Fn fn) {
  for (int l = 0; l < 16; ++l) {
    const int g = 16 * (l % 4) + 4 * k + l / 4;
    fn(l, g, l % 4, 2 * (g % 16));
  }
}

void pack_q4_2of4(const uint8_t* src, uint8_t* dst) {
  BlockQ4_2of4 b;
  std::memcpy(&b, src, sizeof b);
  PackedQ4_2of4Block c;
  std::memset(&c, 0, sizeof c);
  for (int v = 0; v < 4; ++v) c.d[v] = b.values[v].d;
  for (int k = 0; k < 4; ++k)
    for_each_packed_group(k, [&](int l, int g, int v, int e) {
      const int nib = (b.idx[g / 2] >> (g % 2 ? 4 : 0)) & 0xF;
      c.mask[k] |= (uint64_t{1} << (4 * l + (nib & 3))) | (uint64_t{1} << (4 * l + (nib >> 2)));
      for (int h = 0; h < 2; ++h)
        c.qs[k / 2][2 * l + h] |=
            static_cast<uint8_t>(value_level(b.values[v], e + h) << (4 * (k % 2)));
    });
  std::memcpy(dst, &c, sizeof c);
}

void unpack_q4_2of4(const uint8_t* src, uint8_t* dst) {
  PackedQ4_2of4Block c;
  std::memcpy(&c, src, sizeof c);
  BlockQ4_2of4 b;
  std::memset(&b, 0, sizeof b);
  for (int v = 0; v < 4; ++v) b.values[v].d = c.d[v];
  for (int k = 0; k < 4; ++k)
    for_each_packed_group(k, [&](int l, int g, int v, int e) {
      const unsigned bits = static_cast<unsigned>(c.mask[k] >> (4 * l)) & 0xF;
      const int p0 = std::countr_zero(bits), p1 = 31 - std::countl_zero(bits);
      b.idx[g / 2] |= static_cast<uint8_t>((p0 | p1 << 2) << (g % 2 ? 4 : 0));
      for (int h = 0; h < 2; ++h)
        set_value_level(b.values[v], e + h, (c.qs[k / 2][2 * l + h] >> (4 * (k % 2))) & 0xF);
    });
  std::memcpy(dst, &b, sizeof b);
}

// ---------------------------------------------------------------- Q4_MASK50 / Q4_MASK62: 1 block

// Level 0 (nibble 8) in every slot of value block v past the block's count of kept weights.
void clear_padding(int count, int v, uint8_t* qs16) {
  for (int e = std::max(0, count - 32 * v); e < 32; ++e) {
    const int shift = e < 16 ? 0 : 4;
    qs16[e % 16] = static_cast<uint8_t>((qs16[e % 16] & ~(0xF << shift)) | 8 << shift);
  }
}

template <int kVB>
void pack_q4_mask(const uint8_t* src, uint8_t* dst) {
  BlockQ4_Mask<32 * kVB> b;
  std::memcpy(&b, src, sizeof b);
  PackedQ4_MaskBlock<kVB> c;
  std::memcpy(c.mask, b.mask, sizeof c.mask);
  int count = 0;
  for (uint8_t m : b.mask) count += std::popcount(m);
  for (int v = 0; v < kVB; ++v) {
    c.d[v] = b.values[v].d;
    std::memcpy(c.qs[v], b.values[v].qs, 16);
    clear_padding(count, v, c.qs[v]);
  }
  std::memcpy(dst, &c, sizeof c);
}

template <int kVB>
void unpack_q4_mask(const uint8_t* src, uint8_t* dst) {
  PackedQ4_MaskBlock<kVB> c;
  std::memcpy(&c, src, sizeof c);
  BlockQ4_Mask<32 * kVB> b;
  std::memcpy(b.mask, c.mask, sizeof b.mask);
  for (int v = 0; v < kVB; ++v) {
    b.values[v].d = c.d[v];
    std::memcpy(b.values[v].qs, c.qs[v], 16);
  }
  std::memcpy(dst, &b, sizeof b);
}

// ---------------------------------------------------------------- Q4_QMASK62: 1 block, halves

// Set bits of x. This file is built for every x86-64 CPU, where std::popcount is a libgcc call
// (no POPCNT instruction assumed): that call was 12 % of loading a Q4_QMASK62 model.
constexpr int bit_count(uint64_t x) {
  x -= (x >> 1) & 0x5555555555555555ull;
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return static_cast<int>((x * 0x0101010101010101ull) >> 56);
}
static_assert(bit_count(0) == 0 && bit_count(~0ull) == 64 && bit_count(0x8000000000000101ull) == 3);

// Kept slots of mask words 2h and 2h + 1 (slot half h) of a Q4_QMASK62 block.
int qmask62_half_count(const uint8_t* mask, int h) {
  uint64_t w[2];
  std::memcpy(w, mask + 16 * h, sizeof w);
  return bit_count(w[0]) + bit_count(w[1]);
}

// Whether a Q4_QMASK62 block has a packed form: each slot half keeps at most 48.
bool qmask62_fits(const uint8_t* src) {
  constexpr int kHalf = BlockQ4_QMask62::kHalf;
  return qmask62_half_count(src, 0) <= kHalf && qmask62_half_count(src, 1) <= kHalf;
}

// Nibble k % 48 of qs (low for k < 48, high otherwise): level k in the file's split.
void set_nibble48(uint8_t* qs, int k, int level) {
  const int shift = k < BlockQ4_QMask62::kHalf ? 0 : 4;
  uint8_t& byte = qs[k % BlockQ4_QMask62::kHalf];
  byte = static_cast<uint8_t>((byte & ~(0xF << shift)) | level << shift);
}

// Level k of the file's run ↔ level k − c01 of half 1 for k ≥ c01 (c01 = half 0's count):
// the packed nibble index of file level k is k (half 0) or 48 + k − c01 (half 1). Byte by byte
// (this runs over every block of a model at load): half 0's levels are the file's low nibbles
// 0 … c01 − 1 (c01 ≤ 48), half 1's continue from the file's level c01.
void pack_q4_qmask62(const uint8_t* src, uint8_t* dst) {
  constexpr int kHalf = BlockQ4_QMask62::kHalf;
  BlockQ4_QMask62 b;
  std::memcpy(&b, src, sizeof b);
  PackedQ4_QMask62Block c;
  std::memcpy(c.mask, b.mask, sizeof c.mask);
  std::memcpy(c.d, b.d, sizeof c.d);
  const int c01 = qmask62_half_count(b.mask, 0), c23 = qmask62_half_count(b.mask, 1);
  for (int j = 0; j < kHalf; ++j) {
    const int lo = j < c01 ? b.qs[j] & 0xF : 8;
    const int k = c01 + j;  // the file's level for half 1's level j
    const int hi = j >= c23 ? 8 : k < kHalf ? b.qs[k] & 0xF : b.qs[k - kHalf] >> 4;
    c.qs[j] = static_cast<uint8_t>(lo | hi << 4);
  }
  std::memcpy(dst, &c, sizeof c);
}

void unpack_q4_qmask62(const uint8_t* src, uint8_t* dst) {
  PackedQ4_QMask62Block c;
  std::memcpy(&c, src, sizeof c);
  BlockQ4_QMask62 b;
  std::memcpy(b.mask, c.mask, sizeof b.mask);
  std::memcpy(b.d, c.d, sizeof b.d);
  std::memset(b.qs, 0x88, sizeof b.qs);  // level 8 past the count, as the encoder writes
  const int c01 = qmask62_half_count(c.mask, 0), count = c01 + qmask62_half_count(c.mask, 1);
  for (int k = 0; k < count; ++k) {
    const int j = k < c01 ? k : BlockQ4_QMask62::kHalf + k - c01;
    set_nibble48(b.qs, k,
                 (c.qs[j % BlockQ4_QMask62::kHalf] >> (j < BlockQ4_QMask62::kHalf ? 0 : 4)) & 0xF);
  }
  std::memcpy(dst, &b, sizeof b);
}

// ---------------------------------------------------------------- the table of packings

using ChunkFn = void (*)(const uint8_t* src, uint8_t* dst);

// One packing: the ggml type it applies to and its chunk converters.
struct PackingInfo {
  uint8_t id;             // TensorView::packing value
  DType dtype;            // the ggml weight type
  int group_rows;         // rows packed together: 1, or kInterleaveRows (float packings)
  int64_t chunk_weights;  // weights per packed chunk of one row (float packings: one run)
  size_t chunk_bytes;     // bytes per chunk (= the ggml bytes of as many weights)
  ChunkFn pack;           // ggml chunk → packed chunk (nullptr: runs move as they are)
  ChunkFn unpack;         // packed chunk → ggml chunk (nullptr: likewise)
  KernelSlot slot;        // the dispatch-table slot of its kernels
  bool (*fits)(const uint8_t* chunk) = nullptr;  // whether a ggml chunk has a packed form
                                                 // (nullptr: every chunk has)
};

constexpr PackingInfo kPackings[] = {
    {kPackingQ4_0x16, DType::Q4_0, 1, 512, sizeof(PackedQ4_0Chunk), pack_q4_0, unpack_q4_0,
     KernelSlot::kQ4_0x16},
    {kPackingQ8_0x16, DType::Q8_0, 1, 512, sizeof(PackedQ8_0Chunk), pack_q8_0, unpack_q8_0,
     KernelSlot::kQ8_0x16},
    {kPackingQ4_Kx2, DType::Q4_K, 1, 512, sizeof(PackedQ4_KChunk), pack_q4_k, unpack_q4_k,
     KernelSlot::kQ4_Kx2},
    {kPackingQ6_Kx1, DType::Q6_K, 1, 256, sizeof(PackedQ6_KChunk), pack_q6_k, unpack_q6_k,
     KernelSlot::kQ6_Kx1},
    {kPackingF16x4, DType::F16, kInterleaveRows, kInterleaveRun, 2 * kInterleaveRun, nullptr,
     nullptr, KernelSlot::kF16x4},
    {kPackingBF16x4, DType::BF16, kInterleaveRows, kInterleaveRun, 2 * kInterleaveRun, nullptr,
     nullptr, KernelSlot::kBF16x4},
    {kPackingF32x4, DType::F32, kInterleaveRows, kInterleaveRun, 4 * kInterleaveRun, nullptr,
     nullptr, KernelSlot::kF32x4},
    {kPackingQ4_2of4x1, DType::Q4_2OF4, 1, kSparseBlock, sizeof(PackedQ4_2of4Block), pack_q4_2of4,
     unpack_q4_2of4, KernelSlot::kQ4_2of4x1},
    {kPackingQ4_Mask50x1, DType::Q4_MASK50, 1, kSparseBlock, sizeof(PackedQ4_MaskBlock<4>),
     pack_q4_mask<4>, unpack_q4_mask<4>, KernelSlot::kQ4_Mask50x1},
    {kPackingQ4_Mask62x1, DType::Q4_MASK62, 1, kSparseBlock, sizeof(PackedQ4_MaskBlock<3>),
     pack_q4_mask<3>, unpack_q4_mask<3>, KernelSlot::kQ4_Mask62x1},
    {kPackingQ4_QMask62x1, DType::Q4_QMASK62, 1, kSparseBlock, sizeof(PackedQ4_QMask62Block),
     pack_q4_qmask62, unpack_q4_qmask62, KernelSlot::kQ4_QMask62x1, qmask62_fits},
};

const PackingInfo* info_of(uint8_t packing) {
  for (const PackingInfo& p : kPackings)
    if (p.id == packing) return &p;
  return nullptr;
}

// Converts the full chunks of one row (n weights) with fn; a tail that does not fill a chunk is
// copied as is (it stays in ggml's layout at the same offset).
void convert_row(const PackingInfo& p, ChunkFn fn, const uint8_t* src, uint8_t* dst, int64_t n,
                 size_t row_bytes) {
  const int64_t full = n / p.chunk_weights;
  const size_t body = static_cast<size_t>(full) * p.chunk_bytes;
  std::memcpy(dst + body, src + body, row_bytes - body);
  for (int64_t c = 0; c < full; ++c) fn(src + c * p.chunk_bytes, dst + c * p.chunk_bytes);
}

// Rows 4g…4g+3 (src, row_bytes apart) → one interleaved group at dst: run b of row r goes to
// run 4b + r (kernels.h).
void interleave_group(const PackingInfo& p, const uint8_t* src, size_t row_bytes, uint8_t* dst) {
  const size_t runs = row_bytes / p.chunk_bytes;
  for (size_t b = 0; b < runs; ++b)
    for (int r = 0; r < p.group_rows; ++r)
      std::memcpy(dst + (b * p.group_rows + r) * p.chunk_bytes,
                  src + r * row_bytes + b * p.chunk_bytes, p.chunk_bytes);
}

}  // namespace

uint8_t packing_for(DType t) {
  for (const PackingInfo& p : kPackings)
    if (p.dtype == t) return p.id;
  return 0;
}

int64_t packed_chunk_weights(uint8_t packing) {
  const PackingInfo* p = info_of(packing);
  return p ? p->chunk_weights : 0;
}

int packing_group_rows(uint8_t packing) {
  const PackingInfo* p = info_of(packing);
  return p ? p->group_rows : 1;
}

const FormatKernels* packed_kernels(const KernelDispatch& kd, uint8_t packing) {
  const PackingInfo* p = info_of(packing);
  if (p == nullptr) return nullptr;
  const FormatKernels& k = kd.at(p->slot);
  return k.gemm != nullptr ? &k : nullptr;
}

const FormatKernels* KernelDispatch::find(const TensorView& w) const {
  if (w.packing == 0) return find(w.dtype);
  const PackingInfo* p = info_of(w.packing);
  if (p == nullptr || p->dtype != w.dtype) return nullptr;
  return packed_kernels(*this, w.packing);
}

namespace {

// True when w's rows come in whole packing groups: interleaved floats need a row count that is a
// multiple of 4 and row widths of whole runs.
bool whole_groups(const PackingInfo& p, const TensorView& w) {
  return p.group_rows == 1 ||
         (w.n_rows() % p.group_rows == 0 && w.row_size() % p.chunk_weights == 0);
}

// True when every full chunk of w has a packed form (PackingInfo::fits). Rows in parallel: at
// load this is the first pass over a mapped file's pages.
bool every_chunk_fits(const PackingInfo& p, const TensorView& w) {
  if (p.fits == nullptr) return true;
  const int64_t full = w.row_size() / p.chunk_weights;
  std::atomic<bool> all{true};
  ThreadPool::global().parallel_for(w.n_rows(), 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1 && all.load(std::memory_order_relaxed); ++r)
      for (int64_t c = 0; c < full; ++c)
        if (!p.fits(w.row(r) + c * p.chunk_bytes)) all.store(false, std::memory_order_relaxed);
  });
  return all.load();
}

}  // namespace

bool can_repack(const KernelDispatch& kd, const TensorView& w) {
  const PackingInfo* p = info_of(packing_for(w.dtype));
  return p != nullptr && packed_kernels(kd, p->id) != nullptr && w.packing == 0 && w.ndim == 2 &&
         w.row_size() >= p->chunk_weights && w.is_contiguous() && whole_groups(*p, w) &&
         every_chunk_fits(*p, w);
}

TensorView repack_weight(const TensorView& w, uint8_t* dst) {
  const PackingInfo* p = info_of(packing_for(w.dtype));
  if (p == nullptr || w.packing != 0 || w.ndim != 2 || !w.is_contiguous())
    throw Error(
        "repack_weight: only contiguous 2-D Q4_0, Q8_0, Q4_K, Q6_K, F16, BF16, F32, Q4_2OF4, "
        "Q4_MASK50, Q4_MASK62 or Q4_QMASK62 weights in ggml's layout can be repacked, not " +
        std::string(dtype_name(w.dtype)) + " " + w.shape_string() +
        (w.packing != 0 ? " (already packed)" : ""));
  if (!whole_groups(*p, w))
    throw Error("repack_weight: " + std::string(dtype_name(w.dtype)) + " " + w.shape_string() +
                " cannot be interleaved: rows must come in groups of " +
                std::to_string(p->group_rows) + " and be a multiple of " +
                std::to_string(p->chunk_weights) + " wide");
  if (!every_chunk_fits(*p, w))
    throw Error("repack_weight: " + std::string(dtype_name(w.dtype)) + " " + w.shape_string() +
                " has a block its packing cannot hold (Q4_QMASK62: more than 48 kept in a slot "
                "half)");
  const size_t rb = w.row_bytes();
  if (p->group_rows > 1) {
    ThreadPool::global().parallel_for(w.n_rows() / p->group_rows, 16, [&](int64_t g0, int64_t g1) {
      for (int64_t g = g0; g < g1; ++g)
        interleave_group(*p, w.row(g * p->group_rows), rb, dst + g * p->group_rows * rb);
    });
  } else {
    ThreadPool::global().parallel_for(w.n_rows(), 64, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        convert_row(*p, p->pack, w.row(r), dst + r * rb, w.row_size(), rb);
    });
  }
  TensorView v = w;
  v.data = dst;
  v.packing = p->id;
  return v;
}

void unpack_packed_row(const TensorView& packed, int64_t r, void* out) {
  const PackingInfo* p = info_of(packed.packing);
  if (p == nullptr || p->dtype != packed.dtype)
    throw Error("unpack_packed_row: not a packed view (" + std::string(dtype_name(packed.dtype)) +
                ", packing " + std::to_string(packed.packing) + ")");
  auto* dst = static_cast<uint8_t*>(out);
  if (p->group_rows == 1) {
    convert_row(*p, p->unpack, packed.row(r), dst, packed.row_size(), packed.row_bytes());
    return;
  }
  // Row r's runs, every group_rows-th run of its group.
  const int64_t in_group = r % p->group_rows;
  const uint8_t* group = packed.row(r - in_group);
  const size_t runs = packed.row_bytes() / p->chunk_bytes;
  for (size_t b = 0; b < runs; ++b)
    std::memcpy(dst + b * p->chunk_bytes, group + (b * p->group_rows + in_group) * p->chunk_bytes,
                p->chunk_bytes);
}

}  // namespace edgefit::kernels
