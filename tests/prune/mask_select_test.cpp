// Mask selection on scores whose lowest entries are known by construction: exact counts per
// comparison group, N:M per group, index-ordered ties, errors for impossible requests.
#include "prune/mask_select.h"

#include <gtest/gtest.h>

#include <random>

#include "core/error.h"

namespace edgefit {
namespace {

TEST(MaskSelect, PerRowPrunesTheLowestOfEachRow) {
  // Row 0 ascending, row 1 descending: the pruned half sits at opposite ends.
  const std::vector<float> s = {1, 2, 3, 4, 5, 6,  //
                                6, 5, 4, 3, 2, 1};
  const auto m = select_mask(s.data(), 2, 6, SparsityPattern::unstructured(0.5));
  EXPECT_EQ(m, (std::vector<uint8_t>{1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1}));
}

TEST(MaskSelect, PerLayerComparesAcrossRows) {
  // The whole of row 0 is below everything in row 1: a per-layer half prunes row 0 only.
  const std::vector<float> s = {0.1f, 0.4f, 0.2f, 0.3f,  //
                                9.f,  8.f,  7.f,  6.f};
  const auto m =
      select_mask(s.data(), 2, 4, SparsityPattern::unstructured(0.5), MaskScope::kPerLayer);
  EXPECT_EQ(m, (std::vector<uint8_t>{1, 1, 1, 1, 0, 0, 0, 0}));
  const auto r = select_mask(s.data(), 2, 4, SparsityPattern::unstructured(0.5));
  EXPECT_EQ(r, (std::vector<uint8_t>{1, 0, 1, 0, 0, 0, 1, 1}));
}

TEST(MaskSelect, NOfMPrunesWithinEachGroup) {
  const std::vector<float> s = {4, 1, 3, 2, /**/ -1, -5, 7, 0};
  EXPECT_EQ(select_mask(s.data(), 1, 8, SparsityPattern::n_of_m(2, 4)),
            (std::vector<uint8_t>{0, 1, 0, 1, /**/ 1, 1, 0, 0}));
  EXPECT_EQ(select_mask(s.data(), 1, 8, SparsityPattern::n_of_m(4, 8)),
            (std::vector<uint8_t>{0, 1, 0, 0, /**/ 1, 1, 0, 1}));  // -5, -1, 0, 1
  EXPECT_EQ(select_mask(s.data(), 1, 8, SparsityPattern::n_of_m(1, 4)),
            (std::vector<uint8_t>{0, 1, 1, 1, /**/ 1, 1, 0, 1}));
}

TEST(MaskSelect, TiesPruneTheLowerIndexFirst) {
  const std::vector<float> s(10, 1.f);
  EXPECT_EQ(select_mask(s.data(), 1, 10, SparsityPattern::unstructured(0.3)),
            (std::vector<uint8_t>{1, 1, 1, 0, 0, 0, 0, 0, 0, 0}));
  const std::vector<float> g = {2, 1, 1, 2};
  EXPECT_EQ(select_mask(g.data(), 1, 4, SparsityPattern::n_of_m(1, 4)),
            (std::vector<uint8_t>{1, 1, 1, 0}));
}

TEST(MaskSelect, ExactCountsOnRandomScores) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> level(0, 5);  // many ties
  const int64_t rows = 37, cols = 64;
  std::vector<float> s(static_cast<size_t>(rows * cols));
  for (auto& v : s) v = static_cast<float>(level(rng));
  for (const char* text : {"0.3", "0.5", "0.77", "2:4", "4:8", "1:8", "0"}) {
    const auto p = SparsityPattern::parse(text);
    for (const auto scope : {MaskScope::kPerRow, MaskScope::kPerLayer, MaskScope::kPerRowBlock}) {
      const auto m = select_mask(s.data(), rows, cols, p, scope);
      EXPECT_NO_THROW(check_mask(m.data(), rows, cols, p, scope)) << text;
      // Every kept score is at least every pruned score of its group (here: its row for per-row
      // and N:M is checked per group by check_mask's counts plus this order check per row).
      if (scope == MaskScope::kPerRow && !p.is_n_of_m())
        for (int64_t r = 0; r < rows; ++r) {
          float max_pruned = -1, min_kept = 99;
          for (int64_t c = 0; c < cols; ++c) {
            const size_t i = static_cast<size_t>(r * cols + c);
            (m[i] ? max_pruned : min_kept) =
                m[i] ? std::max(max_pruned, s[i]) : std::min(min_kept, s[i]);
          }
          EXPECT_LE(max_pruned, min_kept) << text << " row " << r;
        }
    }
  }
}

TEST(MaskSelect, PerRowBlockSharesTheRowsCountOutOverItsBlocks) {
  // Rows of 600 at 0.5: blocks [0, 256) [256, 512) [512, 600) prune 128, 128, 44; the scores put
  // all of the row's lowest in the first block, which per row would take them all.
  const int64_t cols = 600;
  std::vector<float> s(cols);
  for (int64_t j = 0; j < cols; ++j) s[j] = static_cast<float>(j);
  const auto blocks =
      select_mask(s.data(), 1, cols, SparsityPattern::unstructured(0.5), MaskScope::kPerRowBlock);
  const auto row = select_mask(s.data(), 1, cols, SparsityPattern::unstructured(0.5));
  int64_t first_block = 0, first_block_row = 0;
  for (int64_t j = 0; j < 256; ++j) first_block += blocks[j], first_block_row += row[j];
  EXPECT_EQ(first_block, 128);
  EXPECT_EQ(first_block_row, 256);
  for (int64_t j = 512; j < 556; ++j) EXPECT_EQ(blocks[j], 1) << j;
  for (int64_t j = 556; j < cols; ++j) EXPECT_EQ(blocks[j], 0) << j;
  EXPECT_NO_THROW(check_mask(blocks.data(), 1, cols, SparsityPattern::unstructured(0.5)));
  EXPECT_THROW(
      check_mask(row.data(), 1, cols, SparsityPattern::unstructured(0.5), MaskScope::kPerRowBlock),
      Error);
}

TEST(MaskSelect, PerRowBlockOf32BoundsEveryRun) {
  // q4_qmask62's runs (prune/sparse_formats.h): 0.625 prunes exactly 20 of every aligned 32, the
  // same 160 per 256 and per-row count as 256-blocks; ascending scores put all of a 256-block's
  // lowest in its first runs, which 256-blocks would prune whole.
  const int64_t cols = 512;
  std::vector<float> s(cols);
  for (int64_t j = 0; j < cols; ++j) s[j] = static_cast<float>(j % 256);
  const auto p = SparsityPattern::unstructured(0.625);
  const auto runs = select_mask(s.data(), 1, cols, p, {MaskScope::kPerRowBlock, 32});
  const auto blocks = select_mask(s.data(), 1, cols, p, MaskScope::kPerRowBlock);
  for (int64_t a = 0; a < cols; a += 32) {
    int64_t in_run = 0;
    for (int64_t j = a; j < a + 32; ++j) in_run += runs[j];
    EXPECT_EQ(in_run, 20) << "run at " << a;
    for (int64_t j = a; j < a + 20; ++j) EXPECT_EQ(runs[j], 1) << j;  // the run's lowest 20
  }
  EXPECT_NO_THROW(check_mask(runs.data(), 1, cols, p, MaskScope::kPerRowBlock));
  EXPECT_NO_THROW(check_mask(runs.data(), 1, cols, p, {MaskScope::kPerRowBlock, 32}));
  EXPECT_NO_THROW(check_mask(blocks.data(), 1, cols, p, MaskScope::kPerRowBlock));
  EXPECT_THROW(check_mask(blocks.data(), 1, cols, p, {MaskScope::kPerRowBlock, 32}), Error);
  // A row that is not whole runs: the last, partial run gets its cumulative share (0.5 · 40 − 16).
  const auto odd = select_mask(s.data(), 1, 40, SparsityPattern::unstructured(0.5),
                               {MaskScope::kPerRowBlock, 32});
  int64_t tail = 0;
  for (int64_t j = 32; j < 40; ++j) tail += odd[j];
  EXPECT_EQ(tail, 4);
  EXPECT_THROW(select_mask(s.data(), 1, cols, p, {MaskScope::kPerRowBlock, 0}), Error);
  EXPECT_THROW(check_mask(runs.data(), 1, cols, p, {MaskScope::kPerRowBlock, -32}), Error);
}

TEST(MaskSelect, PerRowHalfBlockPrunesEachInterleavedHalf) {
  // q4_qmask62's slot halves: in a 256-block, half 0 = runs of 32 at 0, 64, 128, 192, half 1 the
  // runs between. Scores rising with the input put the block's 160 lowest in its first 160
  // inputs, which a plain 256-block would prune; each half here prunes exactly its 80 lowest:
  // half 0 runs 0 and 64 whole (64) and 16 of run 128, half 1 likewise from run 32.
  const int64_t cols = 512;
  std::vector<float> s(cols);
  for (int64_t j = 0; j < cols; ++j) s[j] = static_cast<float>(j % 256);
  const auto p = SparsityPattern::unstructured(0.625);
  const auto m = select_mask(s.data(), 2, cols / 2, p, {MaskScope::kPerRowHalfBlock, 256});
  for (int64_t r = 0; r < 2; ++r) {
    const uint8_t* row = m.data() + r * 256;
    int64_t half[2] = {0, 0};
    for (int64_t j = 0; j < 256; ++j) half[(j / 32) % 2] += row[j];
    EXPECT_EQ(half[0], 80);
    EXPECT_EQ(half[1], 80);
    for (int64_t j : {0, 31, 64, 95, 128, 143}) EXPECT_EQ(row[j], 1) << j;    // half 0's lowest
    for (int64_t j : {144, 159, 192, 255}) EXPECT_EQ(row[j], 0) << j;         // half 0 kept
    for (int64_t j : {32, 63, 96, 127, 160, 175}) EXPECT_EQ(row[j], 1) << j;  // half 1's lowest
    for (int64_t j : {176, 191, 224}) EXPECT_EQ(row[j], 0) << j;
  }
  EXPECT_NO_THROW(check_mask(m.data(), 2, 256, p, {MaskScope::kPerRowHalfBlock, 256}));
  EXPECT_NO_THROW(check_mask(m.data(), 2, 256, p, MaskScope::kPerRowBlock));
  // the plain 256-block mask prunes 128 in half 0 and 32 in half 1
  const auto plain = select_mask(s.data(), 2, 256, p, MaskScope::kPerRowBlock);
  EXPECT_THROW(check_mask(plain.data(), 2, 256, p, {MaskScope::kPerRowHalfBlock, 256}), Error);
  // a short last block (40 of 256 inputs) is one group with its cumulative share
  const auto odd = select_mask(s.data(), 1, 296, p, {MaskScope::kPerRowHalfBlock, 256});
  int64_t tail = 0;
  for (int64_t j = 256; j < 296; ++j) tail += odd[j];
  EXPECT_EQ(tail, 185 - 160);
  EXPECT_THROW(select_mask(s.data(), 1, cols, p, {MaskScope::kPerRowHalfBlock, 12}), Error);
}

TEST(MaskSelect, CheckMaskRejectsAWrongMask) {
  std::vector<uint8_t> m = {1, 1, 0, 0, 1, 0, 0, 0};
  EXPECT_THROW(check_mask(m.data(), 1, 8, SparsityPattern::n_of_m(2, 4)), Error);
  m[5] = 1;
  EXPECT_NO_THROW(check_mask(m.data(), 1, 8, SparsityPattern::n_of_m(2, 4)));
  EXPECT_THROW(check_mask(m.data(), 1, 8, SparsityPattern::unstructured(0.3)), Error);
}

TEST(MaskSelect, ImpossibleRequestsThrow) {
  const std::vector<float> s(12, 1.f);
  EXPECT_THROW(select_mask(s.data(), 2, 6, SparsityPattern::n_of_m(2, 4)), Error);
  EXPECT_THROW(select_mask(s.data(), 0, 6, SparsityPattern::unstructured(0.5)), Error);
  std::vector<uint8_t> m(4, 0);
  EXPECT_THROW(mark_lowest(s.data(), 4, 1, 5, m.data()), Error);
  EXPECT_THROW(mark_lowest(s.data(), 4, 1, -1, m.data()), Error);
}

TEST(MaskSelect, ApplyMaskZeroesExactlyThePrunedWeights) {
  const std::vector<float> w = {1, -2, 3, -4};
  const auto out = apply_mask(w.data(), 2, 2, {0, 1, 1, 0});
  EXPECT_EQ(out.weights, (std::vector<float>{1, 0, 0, -4}));
  EXPECT_EQ(out.pruned_count, 2);
  EXPECT_THROW(apply_mask(w.data(), 2, 2, {0, 1}), Error);
}

}  // namespace
}  // namespace edgefit
