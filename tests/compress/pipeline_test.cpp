// The block-level forward and the layer-streaming driver on the polyglot model: forward_block
// reproduces forward() exactly; a calibrated quantization keeps the plan's tensors and types,
// resumes after a stop from the last finished block with identical bytes, and the calibration
// windows follow the per-language mix.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "calib/calib_data.h"
#include "compress/calibrated_quantize.h"
#include "compress/methods/gptq/gptq_block.h"
#include "core/error.h"
#include "eval/model_tokenizer.h"
#include "formats/gguf.h"
#include "model/matmul.h"
#include "model/transformer.h"
#include "polyglot_fixture.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;
using test::scratch_dir;

const std::string& kF32 = test::kPolyglotF32;

TEST(ForwardBlock, ReproducesForwardExactly) {
  const Model m = load_model(kF32);
  const ArchConfig& c = m.config;
  std::vector<int32_t> tokens(40);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(1 + (i * 131) % 8000);
  const int64_t n = static_cast<int64_t>(tokens.size()), d = c.d_model;

  // forward(): record every observed input.
  Transformer a(m);
  std::map<std::string, std::vector<float>> seen_a, seen_b;
  a.set_activation_observer([&](const std::string& name, const float* x, int64_t rows, int64_t w) {
    seen_a[name].assign(x, x + rows * w);
  });
  KVCache ca = a.make_cache(n);
  const std::vector<float> logits = a.forward(tokens, ca);

  // Embeddings + forward_block per layer + the head by hand.
  Transformer b(m);
  b.set_activation_observer([&](const std::string& name, const float* x, int64_t rows, int64_t w) {
    seen_b[name].assign(x, x + rows * w);
  });
  KVCache cb = b.make_cache(n);
  std::vector<float> h(static_cast<size_t>(n * d));
  for (int64_t t = 0; t < n; ++t)
    dequantize_row(m.get("token_embd.weight").view, tokens[size_t(t)], h.data() + t * d);
  for (int l = 0; l < c.n_layers; ++l) b.forward_block(l, h.data(), n, cb);
  EXPECT_EQ(cb.size(), 0);  // forward_block leaves advancing to the caller
  for (const auto& [name, x] : seen_a) {
    if (name == "output.weight") continue;
    ASSERT_TRUE(seen_b.count(name)) << name;
    EXPECT_EQ(std::memcmp(x.data(), seen_b[name].data(), x.size() * sizeof(float)), 0) << name;
  }
  // The head's input from forward() equals RMSNorm of our final hidden states.
  std::vector<float> g(static_cast<size_t>(d));
  dequantize_row(m.get("output_norm.weight").view, 0, g.data());
  const auto& head_in = seen_a.at("output.weight");
  double max_diff = 0;
  for (int64_t t = 0; t < n; ++t) {
    double ss = 0;
    for (int64_t j = 0; j < d; ++j) ss += double(h[size_t(t * d + j)]) * h[size_t(t * d + j)];
    const float sc = static_cast<float>(1.0 / std::sqrt(ss / double(d) + c.rms_eps));
    for (int64_t j = 0; j < d; ++j)
      max_diff = std::max(max_diff, std::fabs(double(h[size_t(t * d + j)] * sc * g[size_t(j)]) -
                                              head_in[size_t(t * d + j)]));
  }
  EXPECT_EQ(max_diff, 0.0);
  EXPECT_THROW(b.forward_block(c.n_layers, h.data(), n, cb), Error);
}

TEST(CalibData, EqualTokensPerLanguageSpreadOverTheFile) {
  const Model m = load_model(kF32);
  const auto tok = load_model_tokenizer(kF32, "", m.config.vocab_size);
  CalibrationDraw d;
  d.files = test::four_calib_files();
  d.ctx = 64;
  d.total_windows = 10;
  const CalibrationWindows cw = draw_calibration_windows(*tok, d);
  ASSERT_EQ(cw.windows.size(), 10u);
  // 10 over 4 files: 3, 3, 2, 2 (largest remainders, ties to the earlier file), interleaved.
  EXPECT_EQ(cw.per_file, (std::vector<size_t>{3, 3, 2, 2}));
  EXPECT_EQ(cw.file_of[0], 0u);
  EXPECT_EQ(cw.file_of[1], 1u);
  for (const auto& w : cw.windows) {
    EXPECT_EQ(w.size(), 64u);
    EXPECT_EQ(w[0], tok->bos_id());
  }
  d.weights = {1, 0, 0, 1};  // German and Russian only
  const CalibrationWindows w2 = draw_calibration_windows(*tok, d);
  EXPECT_EQ(w2.per_file, (std::vector<size_t>{5, 0, 0, 5}));
  d.weights = {1, 2};
  EXPECT_THROW(draw_calibration_windows(*tok, d), Error);
}

CalibratedOptions small_gptq(const std::string& work) {
  return test::small_calibrated("gptq", work);
}

TEST(CalibratedQuantize, KeepsThePlanAndResumesWithIdenticalBytes) {
  const std::string dir = scratch_dir("calib-resume");
  QuantizeOptions qo;
  qo.preset = "q4_k_m";
  // Uninterrupted run.
  const std::string full = dir + "/full.gguf";
  quantize_model_calibrated(kF32, full, qo, small_gptq(dir + "/w1"));
  EXPECT_FALSE(fs::exists(dir + "/w1"));  // removed after success

  // Same tensors, types and order as plain quantize_model with the same options.
  const std::string plain = dir + "/rtn.gguf";
  quantize_model(kF32, plain, qo);
  const GgufFile a(full), b(plain);
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (size_t i = 0; i < a.tensors().size(); ++i) {
    EXPECT_EQ(a.tensors()[i].name, b.tensors()[i].name);
    EXPECT_EQ(a.tensors()[i].type, b.tensors()[i].type) << a.tensors()[i].name;
  }
  const GgufValue* method = a.find("edgefit.method");
  ASSERT_NE(method, nullptr);
  EXPECT_EQ(method->str, "gptq");

  // Stopped after block 2 (as if killed), then resumed.
  const std::string resumed = dir + "/resumed.gguf";
  CalibratedOptions co = small_gptq(dir + "/w2");
  co.stop_after_block = 2;
  EXPECT_THROW(quantize_model_calibrated(kF32, resumed, qo, co), Error);
  EXPECT_FALSE(fs::exists(resumed));
  EXPECT_TRUE(fs::exists(dir + "/w2/blk.2.done"));
  co.stop_after_block = -1;
  CalibratedReport rep;
  quantize_model_calibrated(kF32, resumed, qo, co, &rep);
  EXPECT_EQ(rep.pipeline.first_block_run, 3);
  EXPECT_EQ(test::slurp(full), test::slurp(resumed));

  // A different option is a different run: the stale state is discarded.
  co.stop_after_block = 1;
  EXPECT_THROW(quantize_model_calibrated(kF32, resumed, qo, co), Error);
  co.stop_after_block = -1;
  co.params.of<GptqParams>().damp = 0.05;
  quantize_model_calibrated(kF32, resumed, qo, co, &rep);
  EXPECT_EQ(rep.pipeline.first_block_run, 0);
}

TEST(CalibratedQuantize, RejectsBadRequests) {
  const std::string dir = scratch_dir("calib-bad");
  QuantizeOptions qo;
  CalibratedOptions co = small_gptq(dir + "/w");
  co.method = "nope";
  EXPECT_THROW(quantize_model_calibrated(kF32, dir + "/o.gguf", qo, co), UsageError);
  co.method = "gptq";
  co.calib_files.clear();
  EXPECT_THROW(quantize_model_calibrated(kF32, dir + "/o.gguf", qo, co), UsageError);
}

}  // namespace
}  // namespace edgefit
