// Perplexity of a GGUF on one NTREX-128 evaluation text, with the runtime kernels or another
// matmul: what the eval room's kernel tests compare (runtime against the f32 reference).
#pragma once

#include <cstdint>
#include <string>

#include "core/atomic_file.h"
#include "eval/model_tokenizer.h"
#include "eval/perplexity.h"
#include "formats/model.h"
#include "model/matmul.h"
#include "model/transformer.h"
#include "test_data.h"

namespace edgefit::test {

// `gguf`'s perplexity on ntrex128/eval/<lang>.txt at context 256 with `kernel` (nullptr: the
// runtime kernels), over at most `max_chunks` windows (0: the whole text).
inline double polyglot_ppl(const std::string& gguf, const std::string& lang, MatmulFn kernel,
                           int64_t max_chunks) {
  const Model m = load_model(gguf);
  Transformer t(m, MatmulChoice{.fn = kernel});
  auto tok = load_model_tokenizer(gguf, "", t.vocab_size());
  EvalOptions o;
  o.ctx = 256;
  o.progress = false;
  o.max_chunks = max_chunks;
  const std::string text = read_file(shared_path("text/ntrex128/eval/" + lang + ".txt"));
  return evaluate_text(t, nullptr, *tok, text, lang, o).model.ppl();
}

}  // namespace edgefit::test
