// The runtime kernels (8-bit activations, integer dot products) against the reference path
// (dequantize each weight row to f32): quantized end-to-end perplexity of the polyglot model must
// agree within 0.1 %, for llama.cpp's own q4_0 and q4_k_m files.
#include <gtest/gtest.h>

#include "eval/model_tokenizer.h"
#include "eval/perplexity.h"
#include "core/atomic_file.h"
#include "model/matmul.h"
#include "model/transformer.h"
#include "test_data.h"

namespace edgefit {
namespace {

double polyglot_ppl(const std::string& gguf, const std::string& lang, MatmulFn kernel) {
  set_matmul_kernel(kernel);
  const Model m = load_model(gguf);
  Transformer t(m);
  auto tok = load_model_tokenizer(gguf, "", t.vocab_size());
  EvalOptions o;
  o.ctx = 256;
  o.progress = false;
#if defined(__SANITIZE_ADDRESS__)
  o.max_chunks = 2;
#endif
  const std::string text = read_file(test::shared_path("text/ntrex128/eval/" + lang + ".txt"));
  const double ppl = evaluate_text(t, nullptr, *tok, text, lang, o).model.ppl();
  set_matmul_kernel(nullptr);
  return ppl;
}

TEST(RuntimeKernels, QuantizedPerplexityEqualsTheDequantizedF32Path) {
  for (const char* file : {"ref/polyglot/polyglot-q4_0.llamacpp.gguf", "ref/polyglot/polyglot-q4_k_m-imatrix.llamacpp.gguf"})
    for (const char* lang : {"eng-US", "jpn"}) {
      SCOPED_TRACE(std::string(file) + " " + lang);
      const double fast = polyglot_ppl(test::shared_path(file), lang, nullptr);
      const double ref = polyglot_ppl(test::shared_path(file), lang, matmul_ref);
      std::printf("%s %s: kernels %.4f, dequantize+f32 %.4f (%+.4f %%)\n", file, lang, fast, ref, 100 * (fast / ref - 1));
#if defined(__SANITIZE_ADDRESS__)
      // Two windows (126 scored tokens) under sanitizers: sampling noise is ~0.2 %.
      EXPECT_NEAR(fast / ref, 1.0, 5e-3);
#else
      EXPECT_NEAR(fast / ref, 1.0, 1e-3);  // the whole text: the 0.1 %
#endif
    }
}

}  // namespace
}  // namespace edgefit
