// The forward pass on every instruction set this machine (or qemu's CPU model) supports: the
// integer kernels accumulate in one canonical order (kernels/kernels.h), so quantized models must
// give bit-identical logits whichever kernel table runs the matrix products — the scalar
// reference, AVX2, AVX-VNNI, AVX-512 VNNI and AVX-512 AMX on x86, NEON and NEON dotprod on
// aarch64. This is how CI
// forces the non-default paths through a whole model, not just through single kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/huge_buffer.h"
#include "formats/model.h"
#include "kernels/kernels.h"
#include "model/matmul.h"
#include "model/transformer.h"
#include "quant/presets.h"
#include "quant/quant_traits.h"
#include "test_data.h"

namespace edgefit {
namespace {

// repacked: the weights moved into their packed layouts first (Transformer::repack_weights).
std::vector<float> logits_on(const kernels::KernelDispatch* table, const Model& m,
                             const std::vector<int32_t>& ids, bool repacked = false) {
  // One fixed ISA table per instance (nullptr: the process default, kernel_dispatch()).
  Transformer t(m, MatmulChoice{.table = table});
  if (repacked) t.repack_weights();
  KVCache cache = t.make_cache(static_cast<int64_t>(ids.size()));
  // A prefill of all but the last token, then one decode step: gemm and gemv tiles both run.
  std::vector<float> logits = t.forward(std::span(ids.data(), ids.size() - 1), cache, int64_t{0});
  const std::vector<float> last = t.forward(std::span(&ids.back(), 1), cache);
  logits.insert(logits.end(), last.begin(), last.end());
  return logits;
}

std::vector<float> logits_on(const kernels::KernelDispatch* table, const std::string& model,
                             const std::vector<int32_t>& ids) {
  return logits_on(table, load_model(test::shared_path(model)), ids);
}

// The model's logits on the scalar table and on every SIMD table this machine runs: bit-identical.
void expect_same_logits_on_every_isa(const Model& model, const std::string& what) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 24; ++i) ids.push_back(1 + (i * 37) % 200);
  const std::vector<float> ref =
      logits_on(&kernels::kernel_dispatch_for(kernels::Isa::kScalar), model, ids);
  // Sanity: the scalar-table logits are those of the default path within float noise.
  const std::vector<float> dflt = logits_on(nullptr, model, ids);
  ASSERT_EQ(ref.size(), dflt.size());
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(ref[i], dflt[i], 1e-3f) << i;
  int checked = 0;
  for (int k = 0; k < kernels::kNumIsas; ++k) {
    const auto isa = static_cast<kernels::Isa>(k);
    if (isa == kernels::Isa::kScalar || !kernels::isa_supported(isa)) continue;
    const std::vector<float> got = logits_on(&kernels::kernel_dispatch_for(isa), model, ids);
    ASSERT_EQ(got.size(), ref.size());
    EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), ref.size() * sizeof(float)))
        << kernels::isa_name(isa) << ": logits differ from the scalar table's";
    ++checked;
  }
  std::printf("[isa-logits] %s: %d SIMD table(s) bit-identical to scalar\n", what.c_str(), checked);
}

class IsaLogits : public ::testing::TestWithParam<const char*> {};

TEST_P(IsaLogits, QuantizedModelGivesTheSameLogitsOnEveryIsa) {
  expect_same_logits_on_every_isa(load_model(test::shared_path(GetParam())), GetParam());
}

// Q8_0; Q4_K + Q6_K (+ Q5_K in q4_k_m's attn_v/ffn_down rules); Q4_0 with a Q6_K head.
INSTANTIATE_TEST_SUITE_P(Models, IsaLogits,
                         ::testing::Values("ref/models/tiny-llama/gguf/tiny-llama-Q8_0.gguf",
                                           "ref/models/tiny-llama/gguf/tiny-llama-Q4_K_M.gguf",
                                           "ref/models/tiny-qwen3/gguf/tiny-qwen3-Q4_K_M.gguf",
                                           "ref/polyglot/polyglot-q4_0.llamacpp.gguf"));

// Packed weights have kernels of their own in every table (and the only AMX gemm: the
// avx512amx table reads unpacked weights with the VNNI kernels), so the same check runs on a
// repacked model: a 39-token prefill goes through each table's packed gemm (the AMX one for Q8_0
// and Q4_0, from 32 tokens; the k-quants take it from 128 and 256 tokens, kernels_amx_test), the
// last token through its packed gemv, and every table must give the scalar table's logits on the
// unpacked weights.
TEST_P(IsaLogits, RepackedModelGivesTheSameLogitsOnEveryIsa) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(1 + (i * 41) % 200);
  const Model model = load_model(test::shared_path(GetParam()));
  const std::vector<float> ref =
      logits_on(&kernels::kernel_dispatch_for(kernels::Isa::kScalar), model, ids);
  std::string checked;
  for (int k = 0; k < kernels::kNumIsas; ++k) {
    const auto isa = static_cast<kernels::Isa>(k);
    if (!kernels::isa_supported(isa)) continue;
    const std::vector<float> got =
        logits_on(&kernels::kernel_dispatch_for(isa), model, ids, /*repacked=*/true);
    ASSERT_EQ(got.size(), ref.size());
    EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), ref.size() * sizeof(float)))
        << kernels::isa_name(isa) << ": logits of the repacked model differ from the scalar's";
    checked += std::string(" ") + kernels::isa_name(isa);
  }
  std::printf("[isa-logits] %s repacked, bit-identical to scalar on:%s\n", GetParam(),
              checked.c_str());
}

// polyglot's f32 weights quantized in memory with a preset's per-tensor types (choose_tensor_types,
// as llama-quantize and edgefit's quantize choose them) and src/quant's quantizers: what
// `edgefit quantize` writes without an imatrix, minus the file round trip (the aarch64 cross build
// of these tests has no methods room).
Model quantized_polyglot(const std::string& preset) {
  Model m = load_model(test::shared_path("models/polyglot/gguf/polyglot-f32.gguf"));
  std::vector<TensorDesc> descs;
  for (const ModelTensor& mt : m.tensors) {
    TensorDesc d{mt.name, {}, mt.view.dtype};
    for (int i = mt.view.ndim - 1; i >= 0; --i) d.ne.push_back(mt.view.shape[i]);
    descs.push_back(d);
  }
  const ArchConfig& c = m.config;
  TypeChoiceOptions opt;
  opt.preset = find_quant_preset(preset);
  const std::vector<TensorTypeChoice> choice =
      choose_tensor_types(descs, {c.architecture, c.n_layers, c.n_heads, c.n_kv_heads}, opt);
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    TensorView& v = m.tensors[i].view;
    if (!choice[i].quantizable || choice[i].type == v.dtype || v.dtype != DType::F32) continue;
    const DType t = choice[i].type;
    const size_t rb = quant_row_size(t, v.row_size());
    auto buf = std::make_shared<std::vector<uint8_t>>(rb * static_cast<size_t>(v.n_rows()));
    for (int64_t r = 0; r < v.n_rows(); ++r)
      quant_traits(t)->quantize_row(reinterpret_cast<const float*>(v.row(r)), buf->data() + r * rb,
                                    v.row_size(), nullptr);
    v = TensorView::contiguous(t, std::span(v.shape.data(), v.ndim), buf->data());
    m.keep_alive.push_back(buf);
  }
  return m;
}

// The small-device presets: Q2_K (with Q3_K / Q4_K where q2_k's rules give attn_v and ffn_down
// more bits), Q3_K (+ Q4_K, Q5_K), and the 32-weight formats Q4_1, Q5_0, Q5_1, IQ4_NL (each with a
// Q6_K head).
class IsaLogitsEdgefitQuantized : public ::testing::TestWithParam<const char*> {};

TEST_P(IsaLogitsEdgefitQuantized, QuantizedModelGivesTheSameLogitsOnEveryIsa) {
  const Model m = quantized_polyglot(GetParam());
  int base_tensors = 0;  // the preset's own format is there (rows fit it: no fallback)
  for (const ModelTensor& mt : m.tensors)
    base_tensors += mt.view.dtype == find_quant_preset(GetParam())->base;
  EXPECT_GT(base_tensors, 6) << GetParam();
  expect_same_logits_on_every_isa(m, std::string("polyglot ") + GetParam());
}

INSTANTIATE_TEST_SUITE_P(Presets, IsaLogitsEdgefitQuantized,
                         ::testing::Values("q2_k", "q3_k_m", "q4_1", "q5_0", "q5_1", "iq4_nl"));

// Load-time repacking (Transformer::repack_weights) changes where weights live, not the math: the
// same logits bit for bit, for every packed format these models hold (Q8_0, Q4_K, Q4_0, and the
// row-interleaved F32 and F16), and for the weights copied as stored onto huge pages (those no
// packing takes: rows under one chunk, or stories260K's ffn_down, rows not whole 16-weight runs).
// polyglot's ffn_down rows (768 wide) are one packed Q4_0 chunk plus a tail in ggml's layout.
class RepackLogits : public ::testing::TestWithParam<const char*> {};

TEST_P(RepackLogits, RepackedModelGivesTheSameLogits) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 24; ++i) ids.push_back(1 + (i * 53) % 200);
  const std::vector<float> want = logits_on(nullptr, GetParam(), ids);
  const Model m = load_model(test::shared_path(GetParam()));
  Transformer t(m);
  // What should be repacked, and copied as stored onto huge pages when the kernel offers them,
  // counted from the tensors themselves.
  const kernels::KernelDispatch& kd = kernels::kernel_dispatch();
  int expect = 0, expect_copied = 0;
  uint64_t matmul_bytes = 0;
  for (const ModelTensor& mt : m.tensors) {
    const std::string& name = mt.name;
    const bool matmul_weight = name.find(".weight") != std::string::npos &&
                               name.find("norm") == std::string::npos &&
                               (name.rfind("blk.", 0) == 0 || name == "output.weight");
    if (!matmul_weight) continue;
    matmul_bytes += mt.view.nbytes();
    if (kernels::can_repack(kd, mt.view))
      ++expect;
    else if (huge_pages_available())
      ++expect_copied;
  }
  const RepackStats st = t.repack_weights();
  EXPECT_EQ(st.tensors, expect);
  EXPECT_EQ(st.copied, expect_copied);
  if (huge_pages_available()) {
    EXPECT_EQ(st.bytes, matmul_bytes);  // every matmul weight moved
  }
  EXPECT_LE(st.huge_page_bytes, st.bytes + st.tensors * 64 + (2u << 20));
  KVCache cache = t.make_cache(static_cast<int64_t>(ids.size()));
  std::vector<float> got = t.forward(std::span(ids.data(), ids.size() - 1), cache, int64_t{0});
  const std::vector<float> last = t.forward(std::span(&ids.back(), 1), cache);
  got.insert(got.end(), last.begin(), last.end());
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)));
  std::printf(
      "[repack] %s: %d repacked, %d copied, %.1f KiB (%.1f KiB on huge pages), %.1f KiB of "
      "mapped pages released, %.4f s\n",
      GetParam(), st.tensors, st.copied, st.bytes / 1024.0, st.huge_page_bytes / 1024.0,
      st.released / 1024.0, st.seconds);
}

INSTANTIATE_TEST_SUITE_P(Models, RepackLogits,
                         ::testing::Values("ref/models/tiny-llama/gguf/tiny-llama-Q8_0.gguf",
                                           "ref/models/tiny-llama/gguf/tiny-llama-Q4_K_M.gguf",
                                           "ref/models/tiny-qwen3/gguf/tiny-qwen3-Q4_K_M.gguf",
                                           "ref/polyglot/polyglot-q4_0.llamacpp.gguf",
                                           "ref/models/tiny-llama/gguf/tiny-llama-f32.gguf",
                                           "models/stories260K/gguf/stories260K-f16.gguf"));

}  // namespace
}  // namespace edgefit
