// `edgefit synth --sparsity`: the block matmuls pruned by magnitude into q4_qmask62 keep at most
// 12 of every aligned 32-weight run (as pruning into the type does, prune/sparse_formats.h), so
// every stored block's slot half holds at most 48 (counted from the mask bytes, qmask62_runs.h);
// the per-block count is still 256 − ⌈256·F⌉ capped at 96, and the older q4_mask62 keeps its
// whole-block choice.
#include "methods/synth_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>

#include "formats/gguf.h"
#include "model/block_linears.h"
#include "qmask62_runs.h"
#include "quant/q_sparse.h"
#include "test_data.h"

namespace edgefit {
namespace {

// A one-layer tinyllama-shaped q4_0 synth file with --sparsity `sparsity` [--sparse-type type].
std::string synth(const std::string& sparsity, const std::string& type = "") {
  SynthOptions o;
  o.like = "tinyllama-1.1b";
  o.type = "q4_0";
  o.n_layers = 1;
  o.sparsity = sparsity;
  o.sparse_type = type;
  o.progress = false;
  const std::string path = test::scratch_dir("synth-qmask62-" + sparsity + type) + "/m.gguf";
  write_synth_model(path, o);
  return path;
}

// The mask counts of every block matmul of a synth file's layer 0, which must be q4_qmask62.
void expect_runs(const std::string& path, int kept_per_block, int max_run) {
  const GgufFile f(path);
  for (const std::string& name : block_linear_names(0)) {
    const GgufTensorInfo* t = f.find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    ASSERT_EQ(t->type, DType::Q4_QMASK62) << name;
    const int64_t blocks = static_cast<int64_t>(t->ne[0] * t->ne[1]) / kSparseBlock;
    const test::QMask62Counts c = test::qmask62_counts(f.tensor_data(*t), blocks);
    EXPECT_EQ(c.kept, blocks * kept_per_block) << name;
    EXPECT_EQ(c.max_run, max_run) << name;
    EXPECT_LE(c.max_half, 48) << name;
  }
}

TEST(SynthModel, QMask62KeepsExactly12Per32At0_6) {
  // 0.6: the default type of a fraction, stored 62.5 % sparse: exactly 12 of every 32.
  EXPECT_EQ(synth_sparse_type("0.6").type, DType::Q4_QMASK62);
  expect_runs(synth("0.6"), 96, 12);
}

TEST(SynthModel, QMask62SpreadsSparserBlocksOverTheRuns) {
  // 0.7: 76 of 256, 9 or 10 per run.
  expect_runs(synth("0.7"), 76, 10);
}

TEST(SynthModel, Mask62StillChoosesPerBlock) {
  // The 256-block types keep their whole-block magnitude choice: 96 per block, and the largest
  // weights cluster in some 32-runs more than 12 (q4_mask62 stores weight order: run j is mask
  // bytes 4j … 4j + 3).
  const GgufFile f(synth("0.6", "q4_mask62"));
  const GgufTensorInfo* t = f.find_tensor("blk.0.ffn_up.weight");
  ASSERT_EQ(t->type, DType::Q4_MASK62);
  const auto* bytes = f.tensor_data(*t);
  int max_run = 0;
  for (int64_t b = 0; b < 64; ++b)
    for (int j = 0; j < 8; ++j) {
      int kept = 0;
      for (int k = 0; k < 4; ++k)
        kept += std::popcount(bytes[b * int64_t{sizeof(BlockQ4_Mask62)} + 4 * j + k]);
      max_run = std::max(max_run, kept);
    }
  EXPECT_GT(max_run, 12);
}

}  // namespace
}  // namespace edgefit
