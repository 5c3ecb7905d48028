// Scalar reference encode/decode of the sparse formats (see q_sparse.h).
#include "quant/q_sparse.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "quant/quant_search.h"
#include "quant/quant_traits.h"

namespace edgefit {
namespace {

using quant::BlockQ4_0;
using quant::kQK;

void check_whole_blocks(int64_t n) {
  if (n <= 0 || n % kSparseBlock != 0)
    throw Error("sparse formats: " + std::to_string(n) + " weights are not whole blocks of " +
                std::to_string(kSparseBlock));
}

// Quantizes `count` gathered values (and importances) into the Q4_0 blocks of `out`, zero-padded
// to whole blocks.
void put_values(std::vector<float>& vals, std::vector<float>& imp, bool has_imp, int n_blocks,
                BlockQ4_0* out) {
  vals.resize(static_cast<size_t>(n_blocks * kQK), 0.f);
  imp.resize(vals.size(), 0.f);
  const QuantTraits* q4 = quant_traits(DType::Q4_0);
  for (int b = 0; b < n_blocks; ++b)
    q4->quantize_row(vals.data() + b * kQK, &out[b], kQK, has_imp ? imp.data() + b * kQK : nullptr);
}

// The n_blocks · 32 values of a block's Q4_0 blocks.
std::vector<float> get_values(const BlockQ4_0* in, int n_blocks) {
  std::vector<float> v(static_cast<size_t>(n_blocks * kQK));
  quant_traits(DType::Q4_0)->dequantize_row(in, v.data(), n_blocks * kQK);
  return v;
}

}  // namespace

void encode_q4_2of4(const float* w, const uint8_t* pruned, int64_t n, const float* importance,
                    BlockQ4_2of4* out) {
  check_whole_blocks(n);
  std::vector<float> vals, imp;
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    const int64_t base = b * kSparseBlock;
    BlockQ4_2of4& blk = out[b];
    vals.clear();
    imp.clear();
    for (int g = 0; g < kSparseBlock / 4; ++g) {
      int pos[2], kept = 0;
      for (int k = 0; k < 4; ++k)
        if (!pruned[base + g * 4 + k]) {
          if (kept == 2)
            throw Error("2:4 encoding: block " + std::to_string(b) + " group " + std::to_string(g) +
                        " keeps more than 2 of 4 weights (nonzero)");
          pos[kept++] = k;
        }
      // Fewer than 2 kept: fill with the first pruned positions, stored as zeros.
      for (int k = 0; kept < 2; ++k)
        if (pruned[base + g * 4 + k] && (kept == 0 || pos[0] != k)) pos[kept++] = k;
      if (pos[0] > pos[1]) std::swap(pos[0], pos[1]);
      const uint8_t nib = static_cast<uint8_t>(pos[0] | pos[1] << 2);
      if (g % 2 == 0)
        blk.idx[g / 2] = nib;
      else
        blk.idx[g / 2] |= static_cast<uint8_t>(nib << 4);
      for (const int p : pos) {
        const int64_t at = base + g * 4 + p;
        vals.push_back(pruned[at] ? 0.f : w[at]);
        imp.push_back(importance && !pruned[at] ? importance[at] : 0.f);
      }
    }
    put_values(vals, imp, importance != nullptr, kSparseBlock / 2 / kQK, blk.values);
  }
}

void decode_q4_2of4(const BlockQ4_2of4* in, int64_t n, float* out) {
  check_whole_blocks(n);
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    const BlockQ4_2of4& blk = in[b];
    const auto vals = get_values(blk.values, kSparseBlock / 2 / kQK);
    float* o = out + b * kSparseBlock;
    for (int g = 0; g < kSparseBlock / 4; ++g) {
      const int nib = (blk.idx[g / 2] >> (g % 2 ? 4 : 0)) & 0xF;
      const int p0 = nib & 3, p1 = nib >> 2;
      if (!valid_2of4_nibble(nib))
        throw Error("2:4 block " + std::to_string(b) + " group " + std::to_string(g) +
                    ": corrupt index (positions " + std::to_string(p0) + ", " + std::to_string(p1) +
                    ")");
      for (int k = 0; k < 4; ++k) o[g * 4 + k] = 0.f;
      o[g * 4 + p0] = vals[static_cast<size_t>(2 * g)];
      o[g * 4 + p1] = vals[static_cast<size_t>(2 * g + 1)];
    }
  }
}

template <int kCapacity>
void encode_q4_mask(const float* w, const uint8_t* pruned, int64_t n, const float* importance,
                    BlockQ4_Mask<kCapacity>* out) {
  check_whole_blocks(n);
  std::vector<float> vals, imp;
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    const int64_t base = b * kSparseBlock;
    BlockQ4_Mask<kCapacity>& blk = out[b];
    vals.clear();
    imp.clear();
    for (int i = 0; i < kSparseBlock / 8; ++i) blk.mask[i] = 0;
    for (int i = 0; i < kSparseBlock; ++i) {
      if (pruned[base + i]) continue;
      blk.mask[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
      vals.push_back(w[base + i]);
      imp.push_back(importance ? importance[base + i] : 0.f);
    }
    if (vals.size() > static_cast<size_t>(kCapacity))
      throw Error("sparse mask encoding: block " + std::to_string(b) + " keeps " +
                  std::to_string(vals.size()) + " weights (nonzero), more than the format's " +
                  std::to_string(kCapacity));
    put_values(vals, imp, importance != nullptr, kCapacity / kQK, blk.values);
  }
}

template <int kCapacity>
void decode_q4_mask(const BlockQ4_Mask<kCapacity>* in, int64_t n, float* out) {
  check_whole_blocks(n);
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    const BlockQ4_Mask<kCapacity>& blk = in[b];
    int kept = 0;
    for (int i = 0; i < kSparseBlock / 8; ++i) kept += std::popcount(blk.mask[i]);
    if (kept > kCapacity)
      throw Error("sparse mask block " + std::to_string(b) + ": corrupt mask (" +
                  std::to_string(kept) + " weights kept, the format holds " +
                  std::to_string(kCapacity) + ")");
    const auto vals = get_values(blk.values, kCapacity / kQK);
    float* o = out + b * kSparseBlock;
    int k = 0;
    for (int i = 0; i < kSparseBlock; ++i)
      o[i] = (blk.mask[i / 8] >> (i % 8)) & 1 ? vals[static_cast<size_t>(k++)] : 0.f;
  }
}

template void encode_q4_mask<128>(const float*, const uint8_t*, int64_t, const float*,
                                  BlockQ4_Mask<128>*);
template void encode_q4_mask<96>(const float*, const uint8_t*, int64_t, const float*,
                                 BlockQ4_Mask<96>*);
template void decode_q4_mask<128>(const BlockQ4_Mask<128>*, int64_t, float*);
template void decode_q4_mask<96>(const BlockQ4_Mask<96>*, int64_t, float*);

// ---------------------------------------------------------------- Q4_QMASK62

namespace {

using Q62 = BlockQ4_QMask62;

// The set bits of a block's mask.
int mask_popcount(const uint8_t* mask) {
  int kept = 0;
  for (int i = 0; i < kSparseBlock / 8; ++i) kept += std::popcount(mask[i]);
  return kept;
}

// Importance-weighted squared error of levels L (biased by 8) at fp16 scale d16.
double quarter_error(const float* x, const float* imp, int c, uint16_t d16, const uint8_t* L) {
  const float d = fp16_to_fp32(d16);
  double e = 0;
  for (int j = 0; j < c; ++j) {
    const double diff = x[j] - d * static_cast<float>(L[j] - 8);
    e += static_cast<double>(imp[j]) * diff * diff;
  }
  return e;
}

// The fp16 scale and the levels L (biased by 8) of a quarter's c ≤ 64 kept values x: ggml's Q4_0
// reference (the value of largest magnitude maps to level 0) on c values; with importances imp,
// ggml's Q4_0 importance search too (weights imp·√(σ² + x²), σ² of the row), keeping the one with
// the lower importance-weighted error (ties: the search), as quantize_with_importance does per
// Q4_0 block. A zero scale stores level 8 everywhere.
uint16_t quantize_quarter(const float* x, const float* imp, int c, float sigma2, uint8_t* L) {
  float amax = 0, max = 0;
  for (int j = 0; j < c; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  const float d = max / -8;
  const float id = d ? 1.0f / d : 0.0f;
  uint16_t d16 = fp32_to_fp16(d);
  for (int j = 0; j < c; ++j)
    L[j] = static_cast<uint8_t>(
        std::min(15, static_cast<int>(static_cast<int8_t>(quant::trunc_to_int(x[j] * id + 8.5f)))));
  if (imp && c > 0) {
    float weight[Q62::kQuarter];
    int8_t Ls[Q62::kQuarter];
    for (int j = 0; j < c; ++j) weight[j] = imp[j] * std::sqrt(sigma2 + x[j] * x[j]);
    const uint16_t s16 = fp32_to_fp16(quant::make_qx_quants(c, 8, x, Ls, 1, weight));
    uint8_t Lu[Q62::kQuarter];
    for (int j = 0; j < c; ++j) Lu[j] = static_cast<uint8_t>(Ls[j]);
    if (quarter_error(x, imp, c, s16, Lu) <= quarter_error(x, imp, c, d16, L)) {
      d16 = s16;
      std::copy(Lu, Lu + c, L);
    }
  }
  if (fp16_to_fp32(d16) == 0.f) std::fill(L, L + c, uint8_t{8});
  return d16;
}

}  // namespace

void encode_q4_qmask62(const float* w, const uint8_t* pruned, int64_t n, const float* importance,
                       BlockQ4_QMask62* out) {
  check_whole_blocks(n);
  float sigma2 = 0;  // σ² of the row's values (ggml's importance weighting), pruned zeros included
  for (int64_t i = 0; i < n; ++i) sigma2 += pruned[i] ? 0.f : w[i] * w[i];
  sigma2 /= static_cast<float>(n);
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    const int64_t base = b * kSparseBlock;
    Q62& blk = out[b];
    uint8_t levels[Q62::capacity];
    std::fill(levels, levels + Q62::capacity, uint8_t{8});
    std::fill(blk.mask, blk.mask + kSparseBlock / 8, uint8_t{0});
    int kept = 0;
    for (int i = 0; i < kSparseBlock; ++i) kept += !pruned[base + i];
    if (kept > Q62::capacity)
      throw Error("sparse mask encoding: block " + std::to_string(b) + " keeps " +
                  std::to_string(kept) + " weights (nonzero), more than the format's " +
                  std::to_string(Q62::capacity));
    uint8_t level_at[kSparseBlock] = {};  // each kept weight's level, by position
    for (int q = 0; q < kSparseBlock / Q62::kQuarter; ++q) {
      float x[Q62::kQuarter], imp[Q62::kQuarter];
      int pos[Q62::kQuarter], c = 0;
      for (int i = q * Q62::kQuarter; i < (q + 1) * Q62::kQuarter; ++i) {
        if (pruned[base + i]) continue;
        pos[c] = i;
        x[c] = w[base + i];
        imp[c++] = importance ? importance[base + i] : 0.f;
      }
      uint8_t L[Q62::kQuarter];
      blk.d[q] = quantize_quarter(x, importance ? imp : nullptr, c, sigma2, L);
      for (int j = 0; j < c; ++j) level_at[pos[j]] = L[j];
    }
    int k = 0;  // kept slots so far in the block
    for (int slot = 0; slot < kSparseBlock; ++slot) {
      const int i = qmask62_position(slot);
      if (pruned[base + i]) continue;
      blk.mask[slot / 8] |= static_cast<uint8_t>(1u << (slot % 8));
      levels[k++] = level_at[i];
    }
    for (int j = 0; j < Q62::kHalf; ++j)
      blk.qs[j] = static_cast<uint8_t>(levels[j] | levels[j + Q62::kHalf] << 4);
  }
}

void decode_q4_qmask62(const BlockQ4_QMask62* in, int64_t n, float* out) {
  check_whole_blocks(n);
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    const Q62& blk = in[b];
    const int kept = mask_popcount(blk.mask);
    if (kept > Q62::capacity)
      throw Error("sparse mask block " + std::to_string(b) + ": corrupt mask (" +
                  std::to_string(kept) + " weights kept, the format holds " +
                  std::to_string(Q62::capacity) + ")");
    float* o = out + b * kSparseBlock;
    std::fill(o, o + kSparseBlock, 0.f);
    int k = 0;
    for (int slot = 0; slot < kSparseBlock; ++slot) {
      if (!((blk.mask[slot / 8] >> (slot % 8)) & 1)) continue;
      const int i = qmask62_position(slot);
      o[i] =
          fp16_to_fp32(blk.d[i / Q62::kQuarter]) * static_cast<float>(qmask62_level(blk, k++) - 8);
    }
  }
}

// ---------------------------------------------------------------- GPTQ grids (SparseGPT joint)

namespace {

// Stores 4-bit level `level` in value slot `slot` of consecutive Q4_0 blocks (ggml's nibble
// order: slot k of a block is the low nibble of qs[k] for k < 16, the high one of qs[k − 16]).
void put_level(BlockQ4_0* vb, int slot, uint8_t level) {
  uint8_t* qs = vb[slot / kQK].qs;
  const int k = slot % kQK, half = kQK / 2;
  if (k < half)
    qs[k] = static_cast<uint8_t>((qs[k] & 0xF0) | level);
  else
    qs[k - half] = static_cast<uint8_t>((qs[k - half] & 0x0F) | level << 4);
}

bool kept_bit(const uint8_t* mask, int i) {
  return (mask[i / 8] >> (i % 8)) & 1;
}

void decode_grid_q4_2of4(const void* b, float* step, float* off) {
  const auto& blk = *static_cast<const BlockQ4_2of4*>(b);
  std::fill(step, step + kSparseBlock, 0.f);
  std::fill(off, off + kSparseBlock, 0.f);
  for (int g = 0; g < kSparseBlock / 4; ++g) {
    const int nib = (blk.idx[g / 2] >> (g % 2 ? 4 : 0)) & 0xF;
    const float d = fp16_to_fp32(blk.values[2 * g / kQK].d);  // slots 2g, 2g + 1
    step[g * 4 + (nib & 3)] = d;
    step[g * 4 + (nib >> 2)] = d;
  }
}
void pack_grid_q4_2of4(void* b, const uint8_t* q) {
  auto& blk = *static_cast<BlockQ4_2of4*>(b);
  for (int g = 0; g < kSparseBlock / 4; ++g) {
    const int nib = (blk.idx[g / 2] >> (g % 2 ? 4 : 0)) & 0xF;
    put_level(blk.values, 2 * g, q[g * 4 + (nib & 3)]);
    put_level(blk.values, 2 * g + 1, q[g * 4 + (nib >> 2)]);
  }
}

template <int kCapacity>
void decode_grid_q4_mask(const void* b, float* step, float* off) {
  const auto& blk = *static_cast<const BlockQ4_Mask<kCapacity>*>(b);
  std::fill(off, off + kSparseBlock, 0.f);
  for (int i = 0, k = 0; i < kSparseBlock; ++i)
    step[i] = kept_bit(blk.mask, i) && k < kCapacity ? fp16_to_fp32(blk.values[k++ / kQK].d) : 0.f;
}
template <int kCapacity>
void pack_grid_q4_mask(void* b, const uint8_t* q) {
  auto& blk = *static_cast<BlockQ4_Mask<kCapacity>*>(b);
  int k = 0;
  for (int i = 0; i < kSparseBlock && k < kCapacity; ++i)
    if (kept_bit(blk.mask, i)) put_level(blk.values, k++, q[i]);
  for (; k < kCapacity; ++k) put_level(blk.values, k, 8);  // empty slots add 0
}

void decode_grid_q4_qmask62(const void* b, float* step, float* off) {
  const auto& blk = *static_cast<const Q62*>(b);
  std::fill(step, step + kSparseBlock, 0.f);
  std::fill(off, off + kSparseBlock, 0.f);
  for (int slot = 0; slot < kSparseBlock; ++slot)
    if (kept_bit(blk.mask, slot)) {
      const int i = qmask62_position(slot);
      step[i] = fp16_to_fp32(blk.d[i / Q62::kQuarter]);
    }
}
void pack_grid_q4_qmask62(void* b, const uint8_t* q) {
  auto& blk = *static_cast<Q62*>(b);
  uint8_t levels[Q62::capacity];
  std::fill(levels, levels + Q62::capacity, uint8_t{8});  // empty slots add 0
  for (int slot = 0, k = 0; slot < kSparseBlock && k < Q62::capacity; ++slot)
    if (kept_bit(blk.mask, slot)) levels[k++] = q[qmask62_position(slot)];
  for (int j = 0; j < Q62::kHalf; ++j)
    blk.qs[j] = static_cast<uint8_t>(levels[j] | levels[j + Q62::kHalf] << 4);
}

template <typename Block>
constexpr FormatGrid sparse_grid(DType t, void (*decode)(const void*, float*, float*),
                                 void (*pack)(void*, const uint8_t*)) {
  FormatGrid g;
  g.type = t;
  g.block_size = kSparseBlock;
  g.type_size = sizeof(Block);
  g.q_min = 0;
  g.q_max = 15;
  g.zero = 8;
  g.decode = decode;
  g.pack = pack;
  return g;
}

}  // namespace

const FormatGrid* sparse_format_grid(DType type) {
  static const FormatGrid k2of4 =
      sparse_grid<BlockQ4_2of4>(DType::Q4_2OF4, decode_grid_q4_2of4, pack_grid_q4_2of4);
  static const FormatGrid kMask50 = sparse_grid<BlockQ4_Mask50>(
      DType::Q4_MASK50, decode_grid_q4_mask<128>, pack_grid_q4_mask<128>);
  static const FormatGrid kMask62 =
      sparse_grid<BlockQ4_Mask62>(DType::Q4_MASK62, decode_grid_q4_mask<96>, pack_grid_q4_mask<96>);
  static const FormatGrid kQMask62 =
      sparse_grid<Q62>(DType::Q4_QMASK62, decode_grid_q4_qmask62, pack_grid_q4_qmask62);
  switch (type) {
    case DType::Q4_2OF4:
      return &k2of4;
    case DType::Q4_MASK50:
      return &kMask50;
    case DType::Q4_MASK62:
      return &kMask62;
    case DType::Q4_QMASK62:
      return &kQMask62;
    default:
      return nullptr;
  }
}

}  // namespace edgefit

namespace edgefit {

int64_t find_corrupt_sparse_block(DType t, const void* blocks, int64_t n, std::string* why) {
  const int64_t n_blocks = n / kSparseBlock;
  if (t == DType::Q4_2OF4) {
    const auto* b = static_cast<const BlockQ4_2of4*>(blocks);
    for (int64_t i = 0; i < n_blocks; ++i)
      for (int g = 0; g < kSparseBlock / 4; ++g) {
        const int nib = (b[i].idx[g / 2] >> (g % 2 ? 4 : 0)) & 0xF;
        if (!valid_2of4_nibble(nib)) {
          if (why)
            *why = "group " + std::to_string(g) + " has a corrupt 2:4 index (positions " +
                   std::to_string(nib & 3) + ", " + std::to_string(nib >> 2) + ")";
          return i;
        }
      }
    return -1;
  }
  // every mask type starts its block with the 256-bit mask
  const int capacity = t == DType::Q4_MASK50 ? BlockQ4_Mask50::capacity : BlockQ4_Mask62::capacity;
  static_assert(BlockQ4_QMask62::capacity == BlockQ4_Mask62::capacity);
  const size_t bytes = dtype_info(t)->type_size;
  for (int64_t i = 0; i < n_blocks; ++i) {
    const uint8_t* mask = static_cast<const uint8_t*>(blocks) + static_cast<size_t>(i) * bytes;
    const int kept = mask_popcount(mask);
    if (kept > capacity) {
      if (why)
        *why = "mask keeps " + std::to_string(kept) + " weights, the format holds " +
               std::to_string(capacity);
      return i;
    }
  }
  return -1;
}

namespace {

// The pruned flags of a quantizer's input: its exact zeros.
std::vector<uint8_t> zeros_of(const float* src, int64_t n) {
  std::vector<uint8_t> pruned(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) pruned[static_cast<size_t>(i)] = src[i] == 0.f;
  return pruned;
}

}  // namespace

void quantize_row_q4_2of4(const float* src, void* dst, int64_t n, const float* importance) {
  encode_q4_2of4(src, zeros_of(src, n).data(), n, importance, static_cast<BlockQ4_2of4*>(dst));
}
void quantize_row_q4_mask50(const float* src, void* dst, int64_t n, const float* importance) {
  encode_q4_mask(src, zeros_of(src, n).data(), n, importance, static_cast<BlockQ4_Mask50*>(dst));
}
void quantize_row_q4_mask62(const float* src, void* dst, int64_t n, const float* importance) {
  encode_q4_mask(src, zeros_of(src, n).data(), n, importance, static_cast<BlockQ4_Mask62*>(dst));
}
void quantize_row_q4_qmask62(const float* src, void* dst, int64_t n, const float* importance) {
  encode_q4_qmask62(src, zeros_of(src, n).data(), n, importance,
                    static_cast<BlockQ4_QMask62*>(dst));
}
void dequantize_row_q4_2of4(const void* src, float* dst, int64_t n) {
  decode_q4_2of4(static_cast<const BlockQ4_2of4*>(src), n, dst);
}
void dequantize_row_q4_mask50(const void* src, float* dst, int64_t n) {
  decode_q4_mask(static_cast<const BlockQ4_Mask50*>(src), n, dst);
}
void dequantize_row_q4_mask62(const void* src, float* dst, int64_t n) {
  decode_q4_mask(static_cast<const BlockQ4_Mask62*>(src), n, dst);
}
void dequantize_row_q4_qmask62(const void* src, float* dst, int64_t n) {
  decode_q4_qmask62(static_cast<const BlockQ4_QMask62*>(src), n, dst);
}

}  // namespace edgefit
