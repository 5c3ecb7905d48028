// The runtime kernels (8-bit activations, integer dot products) against the reference path
// (dequantize each weight row to f32): quantized end-to-end perplexity of the polyglot model must
// agree within 0.1 %, for llama.cpp's own q4_0 and q4_k_m files and for the files edgefit's own
// quantize writes for the small-device presets (q2_k, q3_k_m, q4_1, q5_0, q5_1, iq4_nl), whose
// formats have kernels of their own since the dequantize fallback became unreachable.
//
// Compiled twice: into eval_tests (unit label) with a short text per preset, and into
// eval_slow_tests (slow label, EDGEFIT_RUNTIME_KERNELS_LONG) with whole texts in two languages.
#include <gtest/gtest.h>

#include <string>

#include "core/atomic_file.h"
#include "eval/model_tokenizer.h"
#include "eval/perplexity.h"
#include "methods/quantize_model.h"
#include "model/matmul.h"
#include "model/transformer.h"
#include "polyglot_ppl.h"
#include "test_data.h"

namespace edgefit {
namespace {

using test::polyglot_ppl;

void expect_kernels_match_reference(const std::string& gguf, const std::string& what,
                                    const std::string& lang, int64_t max_chunks, double tol) {
  SCOPED_TRACE(what + " " + lang);
  const double fast = polyglot_ppl(gguf, lang, nullptr, max_chunks);
  const double ref = polyglot_ppl(gguf, lang, matmul_ref, max_chunks);
  std::printf("%s %s: kernels %.4f, dequantize+f32 %.4f (%+.4f %%)\n", what.c_str(), lang.c_str(),
              fast, ref, 100 * (fast / ref - 1));
  EXPECT_NEAR(fast / ref, 1.0, tol);
}

// polyglot's HF checkpoint quantized by edgefit (quantize_model, no imatrix) to `preset`.
std::string quantized_polyglot(const std::string& preset) {
  const std::string out =
      test::scratch_dir("runtime-kernels-" + preset) + "/polyglot-" + preset + ".gguf";
  QuantizeOptions o;
  o.preset = preset;
  quantize_model(test::shared_path("models/polyglot/hf"), out, o);
  return out;
}

class EdgefitQuantized : public ::testing::TestWithParam<const char*> {};

#if defined(EDGEFIT_RUNTIME_KERNELS_LONG)

TEST(RuntimeKernels, QuantizedPerplexityEqualsTheDequantizedF32Path) {
  for (const char* file : {"ref/polyglot/polyglot-q4_0.llamacpp.gguf",
                           "ref/polyglot/polyglot-q4_k_m-imatrix.llamacpp.gguf"})
    for (const char* lang : {"eng-US", "jpn"}) {
#if defined(__SANITIZE_ADDRESS__)
      // Two windows (126 scored tokens) under sanitizers: sampling noise is ~0.2 %.
      expect_kernels_match_reference(test::shared_path(file), file, lang, 2, 5e-3);
#else
      expect_kernels_match_reference(test::shared_path(file), file, lang, 0,
                                     1e-3);  // the 0.1 %
#endif
    }
}

// Whole texts, two languages (two scripts: Latin and Japanese).
TEST_P(EdgefitQuantized, WholeTextPerplexityEqualsTheDequantizedF32Path) {
  const std::string gguf = quantized_polyglot(GetParam());
  for (const char* lang : {"eng-US", "jpn"}) {
#if defined(__SANITIZE_ADDRESS__)
    expect_kernels_match_reference(gguf, GetParam(), lang, 2, 5e-3);
#else
    expect_kernels_match_reference(gguf, GetParam(), lang, 0, 1e-3);
#endif
  }
}

#else

// A short text (8 windows of 256 tokens, 1000 scored) per preset.
TEST_P(EdgefitQuantized, ShortTextPerplexityEqualsTheDequantizedF32Path) {
  expect_kernels_match_reference(quantized_polyglot(GetParam()), GetParam(), "eng-US", 8, 1e-3);
}

#endif

INSTANTIATE_TEST_SUITE_P(Presets, EdgefitQuantized,
                         ::testing::Values("q2_k", "q3_k_m", "q4_1", "q5_0", "q5_1", "iq4_nl"));

}  // namespace
}  // namespace edgefit
