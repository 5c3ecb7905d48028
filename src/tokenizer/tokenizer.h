// Tokenizers that reproduce the reference implementations token for token:
//  * llama.cpp (b4748) for GGUF vocabularies: SPM ("llama"), byte-level BPE ("gpt2") with the
//    pre-tokenizer regexes named by `tokenizer.ggml.pre`, and WordPiece ("bert");
//  * SentencePiece for tokenizer.model and llama2.c tokenizer.bin (same algorithm as llama.cpp's
//  SPM);
//  * Hugging Face `tokenizers` for tokenizer.json (normalizers, pre-tokenizers, BPE with merges,
//    added tokens, post-processor, decoders).
// Which behaviour a Tokenizer follows is fixed by the file it was loaded from (`flavor()`), because
// the references disagree on details (special-token splitting, decoding spaces, NFC).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edgefit {

class GgufFile;
struct GgufKV;
struct GgufValue;

// Token kinds, numbered as GGUF `tokenizer.ggml.token_type` stores them (llama_token_type).
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

// The tokenization algorithm (GGUF `tokenizer.ggml.model`).
enum class TokenizerModel {
  Spm,  // "llama": score-driven BPE over UTF-8 characters with <0xNN> byte fallback
  Bpe,  // "gpt2": rank-driven BPE over GPT-2 byte-level characters (HF: any BPE model)
  Wpm,  // "bert": greedy longest-match WordPiece
};

// Whose rules encode()/decode() follow.
enum class TokenizerFlavor {
  LlamaCpp,     // GGUF vocab, llama2.c tokenizer.bin, SentencePiece tokenizer.model
  HuggingFace,  // tokenizer.json
};

namespace tok {
struct State;  // the vocabulary and pipeline; defined in tokenizer_state.h
}

class Tokenizer {
 public:
  explicit Tokenizer(std::unique_ptr<tok::State> state);
  virtual ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Text (bytes, normally UTF-8; invalid sequences are handled as the reference does) to ids.
  // add_special: BOS/EOS (or the HF post-processor template) as the model's config says.
  // parse_special: match control/special token texts as whole tokens (HF: added tokens are
  // always matched, as the Rust library does, whatever this flag says).
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  // Ids to bytes. skip_special drops control/special tokens; otherwise they are rendered as text.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;
  // The bytes one token contributes in the middle of a text (no leading-space rule), for streaming.
  std::string token_to_bytes(int32_t id) const;

  std::string token_piece(
      int32_t id) const;                // raw token text as in the vocabulary ("" if out of range)
  float token_score(int32_t id) const;  // SPM score (0 where the format has none)
  TokenType token_type(int32_t id) const;
  int32_t token_id(std::string_view piece) const;  // -1 if not in the vocabulary

  int32_t n_vocab() const;
  int32_t bos_id() const;         // -1 if none
  int32_t eos_id() const;         // -1 if none
  int32_t unk_id() const;         // -1 if none
  int32_t pad_id() const;         // -1 if none
  int32_t eot_id() const;         // end-of-turn (<|eot_id|>, <|im_end|>, ...); -1 if none
  bool add_bos() const;           // encode(add_special=true) starts with BOS
  bool add_eos() const;           // encode(add_special=true) ends with EOS
  bool is_eog(int32_t id) const;  // ends generation (EOS or EOT)

  TokenizerModel model() const;
  TokenizerFlavor flavor() const;
  // GGUF `tokenizer.ggml.pre` name of the pre-tokenizer ("default" for SPM, "" when unknown).
  const std::string& pre_name() const;
  // BPE merges in rank order, "left right" as GGUF stores them (empty for SPM/WPM).
  const std::vector<std::string>& merges() const;

  const tok::State& state() const { return *state_; }

 private:
  std::unique_ptr<tok::State> state_;
};

// Loads from a GGUF file, an HF model folder (tokenizer.json inside), a tokenizer.json, a
// SentencePiece tokenizer.model or a llama2.c tokenizer.bin (chosen by content, not extension).
// Throws edgefit::Error naming the file and the bad field.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);
std::unique_ptr<Tokenizer> load_tokenizer_from_gguf(const GgufFile& gguf);
// The same from a list of metadata values (e.g. the output of tokenizer_to_gguf_kv).
std::unique_ptr<Tokenizer> load_tokenizer_from_gguf_kv(const std::vector<GgufKV>& kvs);
// tokenizer.json text (+ optional tokenizer_config.json text); `origin` names it in errors.
std::unique_ptr<Tokenizer> load_tokenizer_from_hf_json(std::string_view tokenizer_json,
                                                       std::string_view tokenizer_config_json,
                                                       const std::string& origin);
std::unique_ptr<Tokenizer> load_tokenizer_from_sentencepiece(std::string_view model_proto,
                                                             const std::string& origin);
std::unique_ptr<Tokenizer> load_tokenizer_from_llama2c(std::string_view tokenizer_bin,
                                                       const std::string& origin);

// GGUF `tokenizer.ggml.*` metadata for a loaded tokenizer, so an export loads in llama.cpp:
// model, pre, tokens, scores (SPM), token_type, merges (BPE), bos/eos/unk/pad ids, add_bos/add_eos,
// add_space_prefix (SPM).
std::vector<GgufKV> tokenizer_to_gguf_kv(const Tokenizer& tok);

}  // namespace edgefit
