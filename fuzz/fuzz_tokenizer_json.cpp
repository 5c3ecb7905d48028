// libFuzzer target: tokenizer.json (+ an empty tokenizer_config.json) → Tokenizer, then a round
// trip through encode and decode, so normalizers, pre-tokenizers and decoders built from the
// fuzzed JSON also run.
#include <string>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto tok = edgefit::load_tokenizer_from_hf_json(
        std::string_view(reinterpret_cast<const char*>(data), size), "", "tokenizer.json");
    const auto ids = tok->encode("Hello wörld 123 <s> ​é\n\t  x", true, true);
    (void)tok->decode(ids, false);
  } catch (const edgefit::Error&) {
  }
  return 0;
}
