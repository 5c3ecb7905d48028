// The pieces of a Hugging Face tokenizer.json pipeline that run around the model: normalizers,
// pre-tokenizers and decoders. Each is built from its JSON object; an unknown or malformed one
// throws Error naming the JSON path of the bad field (e.g. "pre_tokenizer.pretokenizers[0].type").
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace edgefit::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void apply(std::string& text) const = 0;
};

// One split of the text on its way through the pre-tokenizers.
struct HfPiece {
  std::string text;    // current (normalized, maybe byte-level mapped) text of the split
  bool first = false;  // starts at offset 0 of the input (Metaspace prepend_scheme "first")
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void apply(std::vector<HfPiece>& pieces) const = 0;
  // True when the output is in the GPT-2 byte-level alphabet (ByteLevel ran).
  virtual bool byte_level() const { return false; }
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// `where` is the JSON path used in error messages ("normalizer", "decoder.decoders[2]", ...).
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& where);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& where);
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j, const std::string& where);

// Unicode normalization forms through utf8proc (invalid UTF-8 is returned unchanged).
std::string unicode_normalize(const std::string& s, const char* form /* NFC NFD NFKC NFKD */);

// Used by the GGUF writer to recognise a pre-tokenizer: the Split regex (empty if none), and
// whether a ByteLevel step with use_regex=true is present.
struct PreTokenizerSummary {
  std::vector<std::string> split_regexes;  // Split patterns in order
  bool byte_level = false;                 // a ByteLevel step is present
  bool byte_level_regex = false;           // ... and it applies the GPT-2 regex itself
  bool metaspace = false;                  // a Metaspace step is present (SPM-style)
  bool digits = false;                     // a Digits step is present
};
PreTokenizerSummary summarize_pre_tokenizer(const nlohmann::json& j);

// Shared JSON accessors that throw Error("<where>.<key>: ...").
const nlohmann::json& json_field(const nlohmann::json& j, const char* key,
                                 const std::string& where);
std::string json_string(const nlohmann::json& j, const char* key, const std::string& where);
bool json_bool(const nlohmann::json& j, const char* key, const std::string& where, bool dflt);

}  // namespace edgefit::tok
