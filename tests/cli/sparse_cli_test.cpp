// edgefit's sparse types from the command line: synth --sparsity writes them (inspect names the
// types and the edgefit.sparse mark), bench runs them, and a file with a corrupt 2:4 index or a
// mask over its capacity is one `edgefit: error:` line naming tensor and block, exit 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "run_command.h"
#include "test_data.h"

namespace edgefit {
namespace {

std::string scratch() {
  const std::string dir = std::string(EDGEFIT_BINARY_DIR) + "/test-scratch";
  std::filesystem::create_directories(dir);
  return dir;
}

// A one-layer tinyllama-shaped synth model with --sparsity s (and --sparse-type type if given).
std::string synth(const std::string& s, const std::string& type = "") {
  const std::string out = scratch() + "/sparse-synth-" + (s == "2:4" ? "2of4" : s) + type + ".gguf";
  std::vector<std::string> args = {"synth",  "--like", "tinyllama-1.1b", "--layers", "1",
                                   "--type", "q4_0",   "--sparsity",     s,          out};
  if (!type.empty()) args.insert(args.end(), {"--sparse-type", type});
  const auto r = test::run_edgefit(args);
  EXPECT_EQ(r.status, 0) << r.err;
  return out;
}

// A copy of `src` with bytes at … at + count − 1 of tensor `name`'s data set to `value`.
std::string corrupt(const std::string& src, const std::string& name, size_t at, size_t count,
                    uint8_t value, const std::string& out) {
  size_t offset;
  {
    const GgufFile f(src);
    offset = static_cast<size_t>(f.data_offset() + f.find_tensor(name)->offset) + at;
  }
  std::ifstream in(src, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  for (size_t i = 0; i < count; ++i) bytes.at(offset + i) = static_cast<char>(value);
  std::ofstream(out, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return out;
}

TEST(SparseCli, SynthWritesTheTypesAndInspectNamesThem) {
  const std::string two = synth("2:4"), mask = synth("0.6");
  const auto r = test::run_edgefit({"inspect", two});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Q4_2OF4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Q4_0"), std::string::npos);  // embeddings as q4_0's preset has them
  const auto m = test::run_edgefit({"inspect", mask});
  ASSERT_EQ(m.status, 0) << m.err;
  EXPECT_NE(m.out.find("Q4_QMASK62"), std::string::npos) << m.out;
  const GgufFile f(mask);
  ASSERT_NE(f.find("edgefit.sparse"), nullptr);
  EXPECT_EQ(f.find("edgefit.sparse")->as_int(), 1);
  // 88 bytes per 256 weights: the FFN matrix is 0.61 of its q4_0 size
  EXPECT_EQ(f.find_tensor("blk.0.ffn_up.weight")->nbytes, 5632ull * 2048 / 256 * 88);
  // --sparse-type keeps the older mask62 writable (86 bytes per 256)
  const GgufFile old(synth("0.6", "q4_mask62"));
  EXPECT_EQ(old.find_tensor("blk.0.ffn_up.weight")->type, DType::Q4_MASK62);
  EXPECT_EQ(old.find_tensor("blk.0.ffn_up.weight")->nbytes, 5632ull * 2048 / 256 * 86);
}

TEST(SparseCli, BenchRunsTheSparseKernels) {
  const auto r = test::run_edgefit({"bench", synth("2:4"), "-p", "8", "-n", "4", "-r", "1"});
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(SparseCli, CorruptBlocksAreOneErrorLine) {
  // 2:4: byte 5 of block 3 of blk.0.ffn_up.weight = groups 10, 11 with p0 = p1 = 1
  const std::string bad_idx = corrupt(synth("2:4"), "blk.0.ffn_up.weight", 3 * 104 + 5, 1, 0x55,
                                      scratch() + "/sparse-bad-idx.gguf");
  // qmask62: 24 of block 0's 32 mask bytes all set: 192 weights kept, the format holds 96
  const std::string bad_mask = corrupt(synth("0.6"), "blk.0.attn_q.weight", 0, 24, 0xFF,
                                       scratch() + "/sparse-bad-mask.gguf");
  for (const auto& [file, what] : {std::pair{bad_idx, std::string("blk.0.ffn_up.weight")},
                                   std::pair{bad_mask, std::string("blk.0.attn_q.weight")}}) {
    const auto r = test::run_edgefit({"bench", file, "-p", "8", "-n", "4", "-r", "1"});
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("edgefit: error:", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("block"), std::string::npos) << r.err;
  }
}

// A dense (unpruned) model asked into a sparse type: one error line naming the tensor, no output.
TEST(SparseCli, QuantizingDenseWeightsToASparseTypeNamesTheTensor) {
  const std::string out = scratch() + "/sparse-never-quantized.gguf";
  const auto r = test::run_edgefit({"quantize", test::shared_path("models/polyglot/hf"), out,
                                    "--type", "q4_0", "--tensor-type", "ffn_up=q4_2of4"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("edgefit: error:", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("ffn_up.weight"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("keeps more than 2 of 4"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(SparseCli, BadSparsityIsAUsageError) {
  const auto r = test::run_edgefit({"synth", "--like", "tinyllama-1.1b", "--layers", "1",
                                    "--sparsity", "0.3", scratch() + "/never.gguf"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--sparsity"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(scratch() + "/never.gguf"));
  // a --sparse-type that is not a mask type, or 2:4 stored as a mask type
  for (const auto& [sparsity, type] : {std::pair{"0.6", "q4_0"}, std::pair{"2:4", "q4_qmask62"}}) {
    const auto t =
        test::run_edgefit({"synth", "--like", "tinyllama-1.1b", "--layers", "1", "--sparsity",
                           sparsity, "--sparse-type", type, scratch() + "/never.gguf"});
    EXPECT_EQ(t.status, 2) << t.err;
    EXPECT_NE(t.err.find("--sparse-type"), std::string::npos) << t.err;
    EXPECT_FALSE(std::filesystem::exists(scratch() + "/never.gguf"));
  }
}

}  // namespace
}  // namespace edgefit
