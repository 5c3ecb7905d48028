// Scalar reference encode/decode of the sparse formats (see q_sparse.h).
#include "quant/q_sparse.h"

#include <bit>
#include <string>
#include <vector>

#include "core/error.h"
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
  const int capacity = t == DType::Q4_MASK50 ? BlockQ4_Mask50::capacity : BlockQ4_Mask62::capacity;
  const size_t bytes = t == DType::Q4_MASK50 ? sizeof(BlockQ4_Mask50) : sizeof(BlockQ4_Mask62);
  for (int64_t i = 0; i < n_blocks; ++i) {
    const uint8_t* mask = static_cast<const uint8_t*>(blocks) + static_cast<size_t>(i) * bytes;
    int kept = 0;
    for (int k = 0; k < kSparseBlock / 8; ++k) kept += std::popcount(mask[k]);
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
void dequantize_row_q4_2of4(const void* src, float* dst, int64_t n) {
  decode_q4_2of4(static_cast<const BlockQ4_2of4*>(src), n, dst);
}
void dequantize_row_q4_mask50(const void* src, float* dst, int64_t n) {
  decode_q4_mask(static_cast<const BlockQ4_Mask50*>(src), n, dst);
}
void dequantize_row_q4_mask62(const void* src, float* dst, int64_t n) {
  decode_q4_mask(static_cast<const BlockQ4_Mask62*>(src), n, dst);
}

}  // namespace edgefit
