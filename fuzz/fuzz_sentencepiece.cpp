// libFuzzer target: SentencePiece tokenizer.model (a hand-read protobuf) → Tokenizer, then a
// round trip through encode and decode.
#include <string>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto tok = edgefit::load_tokenizer_from_sentencepiece(
        std::string_view(reinterpret_cast<const char*>(data), size), "tokenizer.model");
    const auto ids = tok->encode("Hello wörld 123 ​é\n\t  x", true, false);
    (void)tok->decode(ids, false);
  } catch (const edgefit::Error&) {
  }
  return 0;
}
