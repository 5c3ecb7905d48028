// Sparse storage formats: round trips against Q4_0 of the kept values (computed through the
// traits table, independently of the sparse code), exact zeros at pruned positions, errors on
// masks the format cannot hold and on corrupt index/mask blocks.
#include "prune/sparse_formats.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/error.h"
#include "prune/mask_select.h"
#include "prune/score_prune.h"
#include "prune/sparsegpt.h"
#include "qmask62_runs.h"
#include "quant/quant_traits.h"
#include "synthetic_layer.h"

namespace edgefit {
namespace {

// The kept values of `w` in weight order, rounded through Q4_0 in blocks of 32 (zero-padded):
// what a sparse block must decode to at its kept positions.
std::vector<float> q4_0_of_kept(const std::vector<float>& w, const std::vector<uint8_t>& pruned,
                                int64_t begin, int capacity) {
  std::vector<float> kept;
  for (int64_t i = begin; i < begin + kSparseBlock; ++i)
    if (!pruned[i]) kept.push_back(w[i]);
  kept.resize(capacity, 0.f);
  std::vector<uint8_t> bytes(quant_row_size(DType::Q4_0, capacity));
  quantize_tensor(DType::Q4_0, kept.data(), 1, capacity, bytes.data(), nullptr);
  std::vector<float> out(capacity);
  dequantize_tensor(DType::Q4_0, bytes.data(), 1, capacity, out.data());
  return out;
}

TEST(SparseFormats, TwoOfFourRoundTrip) {
  const int64_t n = 4 * kSparseBlock;
  const auto w = test::random_weights(1, n, 21);
  const auto p = magnitude_prune(w.data(), 1, n, SparsityPattern::n_of_m(2, 4));
  std::vector<BlockQ4_2of4> blocks(n / kSparseBlock);
  encode_q4_2of4(w.data(), p.pruned.data(), n, nullptr, blocks.data());
  std::vector<float> back(n);
  decode_q4_2of4(blocks.data(), n, back.data());
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    const auto expect = q4_0_of_kept(w, p.pruned, b * kSparseBlock, 128);
    int k = 0;
    for (int64_t i = b * kSparseBlock; i < (b + 1) * kSparseBlock; ++i) {
      if (p.pruned[i]) {
        EXPECT_EQ(back[i], 0.f) << i;
      } else {
        EXPECT_EQ(back[i], expect[k++]) << i;
      }
    }
  }
  EXPECT_EQ(sizeof(BlockQ4_2of4) * 8.0 / kSparseBlock, 3.25);
}

TEST(SparseFormats, TwoOfFourStoresSparserGroupsAsZeros) {
  const int64_t n = kSparseBlock;
  const auto w = test::random_weights(1, n, 22);
  const auto p = magnitude_prune(w.data(), 1, n, SparsityPattern::n_of_m(1, 4));
  std::vector<BlockQ4_2of4> blocks(1);
  encode_q4_2of4(w.data(), p.pruned.data(), n, nullptr, blocks.data());
  std::vector<float> back(n);
  decode_q4_2of4(blocks.data(), n, back.data());
  for (int64_t i = 0; i < n; ++i)
    if (p.pruned[i]) {
      EXPECT_EQ(back[i], 0.f) << i;
    }
  // A group keeping 3 of 4 cannot be stored.
  auto dense = p.pruned;
  std::memset(dense.data(), 0, 4);
  dense[3] = 1;
  EXPECT_THROW(encode_q4_2of4(w.data(), dense.data(), n, nullptr, blocks.data()), Error);
  EXPECT_THROW(encode_q4_2of4(w.data(), p.pruned.data(), n - 4, nullptr, blocks.data()), Error);
}

TEST(SparseFormats, TwoOfFourRejectsACorruptIndex) {
  const int64_t n = kSparseBlock * 2;
  const auto w = test::random_weights(1, n, 23);
  const auto p = magnitude_prune(w.data(), 1, n, SparsityPattern::n_of_m(2, 4));
  std::vector<BlockQ4_2of4> blocks(2);
  encode_q4_2of4(w.data(), p.pruned.data(), n, nullptr, blocks.data());
  std::vector<float> back(n);
  for (const uint8_t bad : {0x0, 0x5, 0x6, 0xF}) {  // p0 >= p1: (0,0) (1,1) (2,1) (3,3)
    auto corrupt = blocks;
    corrupt[1].idx[7] = static_cast<uint8_t>((corrupt[1].idx[7] & 0xF0) | bad);
    try {
      decode_q4_2of4(corrupt.data(), n, back.data());
      FAIL() << "nibble " << int(bad) << " must be refused";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("block 1 group 14"), std::string::npos) << e.what();
    }
  }
}

template <int kCapacity>
void mask_round_trip(double sparsity, uint32_t seed) {
  const int64_t n = 3 * kSparseBlock;
  const auto w = test::random_weights(1, n, seed);
  // Exact counts per 256-block, as SparseGPT with mask_block 256 gives them.
  std::vector<uint8_t> pruned(n, 0);
  const auto scores = magnitude_scores(w.data(), 1, n);
  for (int64_t b = 0; b < n; b += kSparseBlock)
    mark_lowest(scores.data() + b, kSparseBlock, 1, prune_count(sparsity, kSparseBlock),
                pruned.data() + b);
  std::vector<BlockQ4_Mask<kCapacity>> blocks(n / kSparseBlock);
  encode_q4_mask(w.data(), pruned.data(), n, nullptr, blocks.data());
  std::vector<float> back(n);
  decode_q4_mask(blocks.data(), n, back.data());
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    const auto expect = q4_0_of_kept(w, pruned, b * kSparseBlock, kCapacity);
    int k = 0;
    for (int64_t i = b * kSparseBlock; i < (b + 1) * kSparseBlock; ++i) {
      if (pruned[i]) {
        EXPECT_EQ(back[i], 0.f) << i;
      } else {
        EXPECT_EQ(back[i], expect[k++]) << i;
      }
    }
  }
}

TEST(SparseFormats, MaskRoundTrip) {
  mask_round_trip<128>(0.5, 31);
  mask_round_trip<128>(0.6, 32);
  mask_round_trip<96>(0.625, 33);
  mask_round_trip<96>(0.75, 34);
  EXPECT_NEAR(sizeof(BlockQ4_Mask62) * 8.0 / kSparseBlock, 2.69, 0.01);
}

TEST(SparseFormats, MaskRejectsOverfullAndCorruptBlocks) {
  const int64_t n = kSparseBlock;
  const auto w = test::random_weights(1, n, 35);
  std::vector<uint8_t> pruned(n, 0);
  for (int64_t i = 0; i < 127; ++i) pruned[2 * i] = 1;  // 129 kept: one over capacity
  std::vector<BlockQ4_Mask50> blocks(1);
  EXPECT_THROW(encode_q4_mask(w.data(), pruned.data(), n, nullptr, blocks.data()), Error);
  pruned[2 * 127] = 1;  // 128 kept: fits
  EXPECT_NO_THROW(encode_q4_mask(w.data(), pruned.data(), n, nullptr, blocks.data()));
  blocks[0].mask[5] |= 1;  // one more bit than the block holds values for
  std::vector<float> back(n);
  EXPECT_THROW(decode_q4_mask(blocks.data(), n, back.data()), Error);
}

TEST(SparseFormats, SparseGptPerRowBlockFitsTheMaskFormat) {
  // Per-row-block masks give every 256-block its exact share (153 or 154 of 256 pruned at 0.6),
  // so each block holds at most 103 values: within BlockQ4_Mask50's 128.
  const int64_t n = 256, rows = 8, cols = 512;
  const auto x = test::make_inputs(n, cols, 41, 8, 37, 6.f);
  const auto w = test::random_weights(rows, cols, 42);
  const auto h = test::hessian_of(x, n, cols);
  SparseGptOptions o;
  o.pattern = SparsityPattern::unstructured(0.6);
  o.scope = MaskScope::kPerRowBlock;
  o.mask_block = 384;  // tiles no 256-block: the scope takes gcd(384, 256) = 128
  const auto r = sparsegpt_prune(w.data(), rows, cols, h.data(), o);
  ASSERT_NO_THROW(check_mask(r.pruned.data(), rows, cols, o.pattern, MaskScope::kPerRowBlock));
  std::vector<BlockQ4_Mask50> blocks(rows * cols / kSparseBlock);
  ASSERT_NO_THROW(
      encode_q4_mask(r.weights.data(), r.pruned.data(), rows * cols, nullptr, blocks.data()));
  std::vector<float> back(rows * cols);
  decode_q4_mask(blocks.data(), rows * cols, back.data());
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (r.pruned[i]) {
      EXPECT_EQ(back[i], 0.f) << i;
    }
  }
}

TEST(SparseFormats, QMask62BoundsRunsOf32) {
  // The runs pruning bounds: q4_qmask62 12 of every 32, the others their whole 256-block.
  EXPECT_EQ(sparse_mask_block(DType::Q4_QMASK62), 32);
  EXPECT_EQ(sparse_run_capacity(DType::Q4_QMASK62), 12);
  EXPECT_EQ(sparse_mask_block(DType::Q4_MASK62), 256);
  EXPECT_EQ(sparse_run_capacity(DType::Q4_MASK62), 96);
  EXPECT_EQ(sparse_run_capacity(DType::Q4_MASK50), 128);
  EXPECT_EQ(sparse_mask_block(DType::Q4_0), 0);
  const auto misfit = [](DType t, const char* s, double owl = -1) {
    return sparse_storage_misfit(t, SparsityPattern::parse(s), owl);
  };
  for (const char* fits : {"0.625", "0.7", "0.9", "3:8", "1:4", "12:32", "5:16"})
    EXPECT_EQ(misfit(DType::Q4_QMASK62, fits), "") << fits;
  for (const char* over : {"0.62", "0.5", "2:4", "13:32", "24:64", "96:256"}) {
    const std::string why = misfit(DType::Q4_QMASK62, over);
    EXPECT_NE(why.find("12 of every 32"), std::string::npos) << over << ": " << why;
  }
  // Groups wider than a run fit the 256-block types, not q4_qmask62 (all 24 may sit in one run).
  EXPECT_EQ(misfit(DType::Q4_MASK62, "24:64"), "");
  EXPECT_EQ(misfit(DType::Q4_QMASK62, "0.7", 0.05), "");
  EXPECT_NE(misfit(DType::Q4_QMASK62, "0.7", 0.08).find("--owl"), std::string::npos);
}

TEST(SparseFormats, SparseGptRunsOf32FitQMask62Halves) {
  // SparseGPT with q4_qmask62's runs: every aligned 32 keeps at most 12 (0.7: 9 or 10), so every
  // stored block's slot half (4 runs, qmask62_position) holds at most 48.
  const int64_t n = 256, rows = 8, cols = 512;
  const auto x = test::make_inputs(n, cols, 43, 8, 37, 6.f);
  const auto w = test::random_weights(rows, cols, 44);
  const auto h = test::hessian_of(x, n, cols);
  SparseGptOptions o;
  o.pattern = SparsityPattern::unstructured(0.7);
  o.scope = {MaskScope::kPerRowBlock, sparse_mask_block(DType::Q4_QMASK62)};
  o.type = DType::Q4_QMASK62;
  const auto r = sparsegpt_prune(w.data(), rows, cols, h.data(), o);
  ASSERT_NO_THROW(check_mask(r.pruned.data(), rows, cols, o.pattern, o.scope));
  const test::QMask62Counts c = test::qmask62_counts(r.bytes.data(), rows * cols / kSparseBlock);
  EXPECT_EQ(c.blocks, rows * cols / kSparseBlock);
  EXPECT_LE(c.max_run, 10);
  EXPECT_LE(c.max_half, 40);
  EXPECT_EQ(c.kept, rows * cols - r.pruned_count);
}

}  // namespace
}  // namespace edgefit
