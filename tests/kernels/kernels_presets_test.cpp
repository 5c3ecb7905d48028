// No weight type the pipeline writes reaches the dequantize fallback of kernels_matmul: every
// preset's type choices (llama.cpp's per-tensor rules, the fallback types for row lengths that 256
// or 32 do not divide, tied embeddings, with and without an imatrix) are run on model shapes that
// trigger them, and each chosen type must have kernels in every table this host runs, with a block
// size that divides the row. The fallback stays for exotic GGUF types only (Matmul tests cover it).
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernel_test_util.h"
#include "kernels/kernels.h"
#include "quant/presets.h"
#include "quant/quant_traits.h"

namespace edgefit::kernels {
namespace {

using namespace test_util;

// A llama-style model's tensor list: hidden width d, feed-forward width ff, n_layers blocks.
std::vector<TensorDesc> llama_tensors(uint64_t d, uint64_t ff, uint64_t kv, int n_layers,
                                      bool tied) {
  const uint64_t vocab = 320;
  std::vector<TensorDesc> t;
  t.push_back({"token_embd.weight", {d, vocab}, DType::F32});
  t.push_back({"output_norm.weight", {d}, DType::F32});
  if (!tied) t.push_back({"output.weight", {d, vocab}, DType::F32});
  for (int l = 0; l < n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    t.push_back({p + "attn_norm.weight", {d}, DType::F32});
    t.push_back({p + "attn_q.weight", {d, d}, DType::F32});
    t.push_back({p + "attn_k.weight", {d, kv}, DType::F32});
    t.push_back({p + "attn_v.weight", {d, kv}, DType::F32});
    t.push_back({p + "attn_output.weight", {d, d}, DType::F32});
    t.push_back({p + "ffn_norm.weight", {d}, DType::F32});
    t.push_back({p + "ffn_gate.weight", {d, ff}, DType::F32});
    t.push_back({p + "ffn_up.weight", {d, ff}, DType::F32});
    t.push_back({p + "ffn_down.weight", {ff, d}, DType::F32});
  }
  return t;
}

// Row lengths (d, ff): all multiples of 256; d a multiple of 32 only (k-quants fall back to Q5_0,
// Q5_1, Q8_0, IQ4_NL); ff a multiple of 32 only; ff not even a multiple of 32 (ffn_down: F16).
// (A hidden width that 32 does not divide fails in llama.cpp and here: output.weight has no type.)
struct Shape {
  uint64_t d, ff;
};
constexpr Shape kShapes[] = {{512, 1536}, {544, 1536}, {512, 1568}, {544, 1568}, {512, 1560}};

TEST(Presets, EveryTypeAPresetWritesHasKernelsInEveryTable) {
  std::set<DType> seen;
  int checked = 0, refused = 0;
  for (const QuantPreset& preset : quant_presets()) {
    for (const Shape& s : kShapes) {
      for (bool tied : {false, true}) {
        for (bool imatrix : {false, true}) {
          for (uint64_t kv_div : {1, 4, 8}) {  // GQA factor: llama.cpp's attn_v rules look at it
            TypeChoiceModel model{"llama", 8, 8, static_cast<int>(8 / kv_div)};
            const uint64_t kv = s.d / kv_div;
            const std::vector<TensorDesc> tensors = llama_tensors(s.d, s.ff, kv, 8, tied);
            TypeChoiceOptions opt;
            opt.preset = &preset;
            opt.has_imatrix = imatrix;
            std::vector<TensorTypeChoice> choice;
            try {
              choice = choose_tensor_types(tensors, model, opt);
            } catch (const Error&) {
              // The legacy presets refuse rows that 32 does not divide, as llama-quantize does:
              // no file, nothing to run.
              ++refused;
              continue;
            }
            ASSERT_EQ(choice.size(), tensors.size());
            for (size_t i = 0; i < tensors.size(); ++i) {
              if (tensors[i].ne.size() < 2) continue;  // norms: not a matmul weight
              const DType t = choice[i].type;
              seen.insert(t);
              for (Isa isa : supported_isas()) {
                const FormatKernels* fk = kernel_dispatch_for(isa).find(t);
                ASSERT_NE(fk, nullptr)
                    << "preset " << preset.name << " writes " << dtype_name(t) << " for "
                    << tensors[i].name << " (row " << tensors[i].ne[0] << "), and the "
                    << isa_name(isa) << " table has no kernel for it: dequantize fallback";
                ASSERT_EQ(static_cast<int64_t>(tensors[i].ne[0]) % fk->block_size, 0)
                    << preset.name << " " << tensors[i].name << " " << dtype_name(t);
                ++checked;
              }
            }
          }
        }
      }
    }
  }
  // The walk reached the formats it is about: the small-device presets and their fallbacks.
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::IQ4_NL,
                  DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_0, DType::Q4_0, DType::F16})
    EXPECT_TRUE(seen.count(t)) << dtype_name(t) << " was never chosen: the shapes miss a rule";
  EXPECT_GT(checked, 1000);
  EXPECT_LT(refused, 100) << "most combinations must produce a file";
}

// Beyond the presets, `--tensor-type PATTERN=TYPE` accepts any type edgefit can write. Each has
// kernels too, except Q8_K: ggml's activation format, which no preset or llama.cpp tool writes as
// a weight; it alone keeps the dequantize fallback (kernels_matmul_test runs it).
TEST(Presets, EveryWritableWeightTypeHasKernelsExceptQ8_K) {
  for (const QuantTraits& q : all_quant_traits()) {
    if (q.type == DType::Q8_K) {
      EXPECT_EQ(kernel_dispatch_for(Isa::kScalar).find(q.type), nullptr);
      continue;
    }
    for (Isa isa : supported_isas())
      EXPECT_NE(kernel_dispatch_for(isa).find(q.type), nullptr)
          << dtype_name(q.type) << " on " << isa_name(isa);
  }
}

}  // namespace
}  // namespace edgefit::kernels
