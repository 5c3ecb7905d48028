// llama2.c tokenizer.bin: i32 max_token_length, then per token f32 score, i32 len, len bytes.
// Converted the way llama.cpp's convert-llama2c-to-ggml does (ids 0/1/2 are <unk>/<s>/</s>,
// "<0xNN>" texts are byte tokens, spaces become "▁"), so it tokenizes like the GGUF it makes.
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "tokenizer/tokenizer_state.h"

namespace edgefit {

std::unique_ptr<Tokenizer> load_tokenizer_from_llama2c(std::string_view bin,
                                                       const std::string& origin) {
  auto s = std::make_unique<tok::State>();
  s->origin = origin;
  s->flavor = TokenizerFlavor::LlamaCpp;
  s->model = TokenizerModel::Spm;
  size_t off = 0;
  const auto read4 = [&](const char* what) {
    if (bin.size() - off < 4)
      throw Error(std::string("truncated tokenizer.bin: expected ") + what, origin, off);
    uint32_t v;
    std::memcpy(&v, bin.data() + off, 4);
    off += 4;
    return v;
  };
  const uint32_t max_len = read4("max_token_length");
  if (max_len == 0 || max_len > (1u << 20))
    throw Error("max_token_length " + std::to_string(max_len) + " is implausible", origin, 0);
  while (off < bin.size()) {
    const size_t at = off;
    const uint32_t score_bits = read4("token score");
    float score;
    std::memcpy(&score, &score_bits, 4);
    const uint32_t len = read4("token length");
    if (len > max_len || len > bin.size() - off)
      throw Error("token " + std::to_string(s->tokens.size()) + ": length " + std::to_string(len) +
                      " exceeds max_token_length or the file",
                  origin, at + 4);
    tok::TokenData t;
    t.text.assign(bin.data() + off, len);
    t.score = score;
    off += len;
    const size_t id = s->tokens.size();
    unsigned v = 0;
    char tail = 0;
    if (id == 0) {
      t.text = "<unk>";
      t.type = TokenType::Unknown;
    } else if (id == 1) {
      t.text = "<s>";
      t.type = TokenType::Control;
    } else if (id == 2) {
      t.text = "</s>";
      t.type = TokenType::Control;
    } else if (t.text.empty()) {
      t.type = TokenType::Control;
    } else if (t.text.size() == 6 && std::sscanf(t.text.c_str(), "<0x%2X%c", &v, &tail) == 2 &&
               tail == '>') {
      t.type = TokenType::Byte;
    }
    t.text = tok::spm_escape(t.text);
    s->tokens.push_back(std::move(t));
  }
  if (s->tokens.size() < 3) throw Error("tokenizer.bin holds fewer than 3 tokens", origin);
  s->unk = 0;
  s->bos = 1;
  s->eos = 2;
  s->add_bos = true;
  s->add_space_prefix = true;
  s->pre = "default";
  s->finalize();
  return std::make_unique<Tokenizer>(std::move(s));
}

}  // namespace edgefit
