// Internal: everything a Tokenizer knows. Loaders fill the "loaded" fields and call finalize(),
// which derives the lookup tables the algorithms use.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/hf_components.h"
#include "tokenizer/pretokenizer_regex.h"
#include "tokenizer/tokenizer.h"

namespace edgefit::tok {

struct TokenData {
  std::string text;  // piece as stored (SPM: "▁" for space; BPE: byte-level chars)
  float score = 0;   // SPM merge priority (higher merges first)
  TokenType type = TokenType::Normal;  // GGUF token type; decides special matching and rendering
  bool lstrip = false;                 // HF added token: swallows whitespace on its left
  bool rstrip = false;                 // HF added token: swallows whitespace on its right
  bool single_word = false;            // HF added token: only matches as a whole word
  bool added = false;                  // HF: listed in added_tokens (matched before the model)
  bool special = false;                // HF: added token with "special": true
};

// One item of an HF TemplateProcessing "single" template.
struct PostItem {
  bool is_sequence = false;  // true: the encoded text; false: the special token ids below
  std::vector<int32_t> ids;  // ids of a SpecialToken item
};

// Hash that lets unordered_map<std::string, ...> be searched with a string_view (no allocation).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct State {
  // ---- loaded ----
  TokenizerModel model = TokenizerModel::Spm;               // algorithm
  TokenizerFlavor flavor = TokenizerFlavor::LlamaCpp;       // whose rules encode/decode follow
  std::vector<TokenData> tokens;                            // by id
  std::vector<std::pair<std::string, std::string>> merges;  // BPE merges in rank order
  std::string pre;                // GGUF tokenizer.ggml.pre name ("" if unknown)
  std::string origin;             // file it came from, for messages
  int32_t bos = -1;               // beginning of sequence (BERT: CLS)
  int32_t eos = -1;               // end of sequence
  int32_t unk = -1;               // unknown token
  int32_t pad = -1;               // padding
  int32_t sep = -1;               // separator (BERT)
  int32_t eot = -1;               // end of turn
  bool add_bos = false;           // encode(add_special) prepends BOS
  bool add_eos = false;           // encode(add_special) appends EOS
  bool add_sep = false;           // encode(add_special) appends SEP (WPM)
  bool add_space_prefix = false;  // SPM: a space before text at the start / after a special token
  bool remove_extra_whitespaces = false;  // SentencePiece normalizer option
  bool clean_spaces = false;              // llama.cpp detokenize clean-up (" ," -> ",")
  bool ignore_merges = false;             // BPE: a word that is a token is emitted whole
  // HF BPE model options
  bool byte_fallback = false;  // unknown chars become <0xNN> tokens
  bool fuse_unk = false;       // consecutive unknowns give one <unk>
  // HF pipeline (flavor HuggingFace)
  std::unique_ptr<Normalizer> normalizer;       // may be null
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // may be null
  std::unique_ptr<Decoder> decoder;             // may be null (tokens joined with " ")
  std::vector<PostItem> post_single;            // template when add_special; empty = none
  std::string hf_normalizer_json;     // normalizer JSON, kept for the GGUF writer's checks
  std::string hf_pre_tokenizer_json;  // pre_tokenizer JSON, kept for pre-name detection

  // ---- derived by finalize() ----
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> text_to_id;  // text -> id
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merge_table;  // (l,r) -> (rank, id)
  std::vector<std::unique_ptr<Regex>> pre_regexes;  // llama.cpp BPE word splitting
  std::vector<int32_t> special_cache;  // llama.cpp: matchable specials, longest text first
  std::vector<int32_t> added_ids;      // HF: added tokens, matched leftmost-longest
  std::array<std::vector<int32_t>, 256> added_by_byte;  // HF: added tokens by first byte
  std::array<int32_t, 256> byte_token{};  // byte -> its token (<0xNN> or byte-level char), -1
  size_t max_token_len = 0;               // longest token text in bytes
  std::vector<std::string> merges_text;   // "left right" view of `merges`

  // Derives the tables above; throws Error for an inconsistent vocabulary.
  void finalize();
  int32_t find(std::string_view text) const {
    auto it = text_to_id.find(text);
    return it == text_to_id.end() ? -1 : it->second;
  }
  bool valid(int32_t id) const { return id >= 0 && id < static_cast<int32_t>(tokens.size()); }
  // Sets `eot` to the first of `candidates` (token texts, in order of preference) that is in the
  // vocabulary and is not the EOS token; leaves it unchanged when none is.
  void guess_eot(std::initializer_list<std::string_view> candidates) {
    for (std::string_view t : candidates) {
      const int32_t id = find(t);
      if (id >= 0 && id != eos) {
        eot = id;
        return;
      }
    }
  }
};

// A piece of input after special-token splitting: raw text or an already-decided token.
struct Fragment {
  int32_t token = -1;  // >= 0: this token; -1: the text range below
  size_t begin = 0;    // byte range in the input (text fragments)
  size_t end = 0;
};

// llama.cpp's tokenizer_st_partition: split at control/user-defined/unknown token texts.
std::vector<Fragment> partition_llamacpp(const State& s, std::string_view text, bool parse_special);
// HF added-token split: leftmost-longest over all added tokens, honouring
// lstrip/rstrip/single_word.
std::vector<Fragment> partition_hf(const State& s, std::string_view text);

// Algorithms (append to `out`).
void spm_tokenize(const State& s, std::string_view text, std::vector<int32_t>& out);
// Rank-driven BPE of one word. `hf` picks HF's handling of characters outside the vocabulary
// (byte_fallback / unk / fuse_unk); otherwise llama.cpp's (single-byte lookups).
void bpe_tokenize_word(const State& s, std::string_view word, bool hf, std::vector<int32_t>& out);
void wpm_tokenize(const State& s, std::string_view text, std::vector<int32_t>& out);

// SentencePiece/llama.cpp whitespace handling for SPM raw text.
std::string spm_escape(std::string_view text);

}  // namespace edgefit::tok
