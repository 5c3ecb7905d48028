// edgefit's sparse types end to end: polyglot with every block matmul pruned by magnitude (2:4,
// and 62.5 % per 256-block) and stored as Q4_2OF4 / Q4_MASK62 / Q4_QMASK62. Its perplexity through
// the sparse kernels must equal the dequantize-then-f32 path within 0.1 % (the bound), and
// a corrupt block in such a file is an Error naming the tensor and block when the model is loaded
// for a forward pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "eval/model_tokenizer.h"
#include "eval/perplexity.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/model.h"
#include "model/matmul.h"
#include "model/transformer.h"
#include "polyglot_ppl.h"
#include "quant/q_sparse.h"
#include "quant/quant_traits.h"
#include "test_data.h"

namespace edgefit {
namespace {

bool is_block_matmul(const std::string& name) {
  return name.starts_with("blk.") && name.ends_with(".weight") &&
         name.find("norm") == std::string::npos;
}

// Zeroes all but the `keep` largest magnitudes of every `unit` consecutive weights (magnitude
// pruning: 2 of 4, or 96 of 256).
void magnitude_prune(std::vector<float>& w, size_t unit, size_t keep) {
  std::vector<size_t> order(unit);
  for (size_t base = 0; base + unit <= w.size(); base += unit) {
    for (size_t i = 0; i < unit; ++i) order[i] = base + i;
    std::nth_element(order.begin(), order.begin() + keep, order.end(),
                     [&](size_t a, size_t b) { return std::fabs(w[a]) > std::fabs(w[b]); });
    for (size_t i = keep; i < unit; ++i) w[order[i]] = 0.f;
  }
}

// polyglot (its F32 GGUF) with its block matmuls pruned and stored as `type`; other tensors as
// they are.
std::string sparse_polyglot(DType type) {
  const std::string dir = test::scratch_dir("sparse-runtime");
  const std::string f32 = test::shared_path("models/polyglot/gguf/polyglot-f32.gguf");
  const std::string out = dir + "/polyglot-" + std::string(dtype_name(type)) + ".gguf";
  GgufFile src(f32);
  GgufWriter w;
  for (const GgufKV& kv : src.kvs())
    if (kv.key != "general.alignment") w.set(kv.key, kv.value);
  std::vector<std::unique_ptr<std::vector<uint8_t>>> keep_alive;
  for (const GgufTensorInfo& t : src.tensors()) {
    if (!is_block_matmul(t.name)) {
      w.add_tensor(t.name, t.type, t.ne, src.tensor_data(t));
      continue;
    }
    const int64_t cols = static_cast<int64_t>(t.ne[0]), rows = static_cast<int64_t>(t.ne[1]);
    std::vector<float> f(static_cast<size_t>(rows * cols));
    std::memcpy(f.data(), src.tensor_data(t), f.size() * sizeof(float));
    if (type == DType::Q4_2OF4)
      magnitude_prune(f, 4, 2);
    else
      magnitude_prune(f, 256, BlockQ4_Mask62::capacity);
    auto bytes = std::make_unique<std::vector<uint8_t>>(quant_row_size(type, cols) * rows);
    quantize_tensor(type, f.data(), rows, cols, bytes->data(), nullptr);
    w.add_tensor(t.name, type, t.ne, bytes->data());
    keep_alive.push_back(std::move(bytes));
  }
  w.write(out);
  return out;
}

double ppl(const std::string& gguf, MatmulFn kernel) {
  return test::polyglot_ppl(gguf, "eng-US", kernel, 8);
}

TEST(SparseRuntime, PrunedPerplexityEqualsTheDequantizedF32Path) {
  for (DType type : {DType::Q4_2OF4, DType::Q4_MASK62, DType::Q4_QMASK62}) {
    const std::string gguf = sparse_polyglot(type);
    const GgufFile f(gguf);
    ASSERT_NE(f.find("edgefit.sparse"), nullptr);  // other tools' "invalid type" is explainable
    EXPECT_EQ(f.find("edgefit.sparse")->as_int(), 1);
    const double fast = ppl(gguf, nullptr), ref = ppl(gguf, matmul_ref);
    std::printf("%s: kernels %.4f, dequantize+f32 %.4f (%+.4f %%)\n", dtype_name(type).data(), fast,
                ref, 100 * (fast / ref - 1));
    EXPECT_NEAR(fast / ref, 1.0, 1e-3) << dtype_name(type);
  }
}

TEST(SparseRuntime, CorruptBlockIsAnErrorNamingTensorAndBlock) {
  const std::string gguf = sparse_polyglot(DType::Q4_2OF4);
  const std::string bad = std::filesystem::path(gguf).parent_path().string() + "/corrupt.gguf";
  std::vector<char> bytes;
  {
    std::ifstream in(gguf, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const GgufFile f(gguf);
  const GgufTensorInfo* t = f.find_tensor("blk.2.ffn_up.weight");
  ASSERT_NE(t, nullptr);
  const size_t at = static_cast<size_t>(f.data_offset() + t->offset) + 3 * sizeof(BlockQ4_2of4) + 5;
  bytes[at] = static_cast<char>(0x55);  // groups 10 and 11: p0 = p1 = 1
  {
    std::ofstream out(bad, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const Model m = load_model(bad);
  try {
    Transformer tr(m, MatmulChoice{});
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("blk.2.ffn_up.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("block 3"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace edgefit
