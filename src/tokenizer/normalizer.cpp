// HF tokenizer.json normalizers: NFC/NFD/NFKC/NFKD, Lowercase, Strip, StripAccents, Prepend,
// Replace and Sequence (what Llama/Mistral/Qwen/GPT-2 style files use).
#include <utf8proc.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/hf_components.h"
#include "tokenizer/hf_replace.h"
#include "tokenizer/pretokenizer_regex.h"
#include "tokenizer/unicode.h"

namespace edgefit::tok {

using nlohmann::json;

const json& json_field(const json& j, const char* key, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected a JSON object");
  auto it = j.find(key);
  if (it == j.end()) throw Error(where + "." + key + ": missing");
  return *it;
}

std::string json_string(const json& j, const char* key, const std::string& where) {
  const json& v = json_field(j, key, where);
  if (!v.is_string()) throw Error(where + "." + key + ": expected a string");
  return v.get<std::string>();
}

bool json_bool(const json& j, const char* key, const std::string& where, bool dflt) {
  if (!j.is_object()) throw Error(where + ": expected a JSON object");
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) throw Error(where + "." + key + ": expected true or false");
  return it->get<bool>();
}

std::string unicode_normalize(const std::string& s, const char* form) {
  if (s.empty()) return s;
  bool ascii = true;
  for (char c : s) ascii = ascii && static_cast<uint8_t>(c) < 0x80;
  if (ascii) return s;  // every normalization form leaves ASCII alone
  int opts = UTF8PROC_STABLE;
  const std::string f = form;
  if (f == "NFC") opts |= UTF8PROC_COMPOSE;
  if (f == "NFD") opts |= UTF8PROC_DECOMPOSE;
  if (f == "NFKC") opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  if (f == "NFKD") opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                          static_cast<utf8proc_ssize_t>(s.size()), &out,
                                          static_cast<utf8proc_option_t>(opts));
  if (n < 0) return s;
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

namespace {

class UnicodeForm : public Normalizer {
 public:
  explicit UnicodeForm(const char* form) : form_(form) {}
  void apply(std::string& t) const override { t = unicode_normalize(t, form_); }

 private:
  const char* form_;  // "NFC", "NFD", "NFKC" or "NFKD"
};

class Lowercase : public Normalizer {
 public:
  void apply(std::string& t) const override {
    std::string out;
    out.reserve(t.size());
    for (uint32_t c : utf8_to_cpts(t)) append_utf8(out, to_lower_cpt(c));
    t.swap(out);
  }
};

class StripAccents : public Normalizer {
 public:
  void apply(std::string& t) const override {
    std::string out;
    for (uint32_t c : utf8_to_cpts(t)) {
      if (utf8proc_category(static_cast<utf8proc_int32_t>(c)) != UTF8PROC_CATEGORY_MN)
        append_utf8(out, c);
    }
    t.swap(out);
  }
};

class Strip : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void apply(std::string& t) const override {
    auto cpts = utf8_to_cpts(t);
    size_t b = 0, e = cpts.size();
    if (left_)
      while (b < e && is_whitespace_cpt(cpts[b])) ++b;
    if (right_)
      while (e > b && is_whitespace_cpt(cpts[e - 1])) --e;
    std::string out;
    for (size_t i = b; i < e; ++i) append_utf8(out, cpts[i]);
    t.swap(out);
  }

 private:
  bool left_;   // strip leading whitespace
  bool right_;  // strip trailing whitespace
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string p) : prefix_(std::move(p)) {}
  // HF prepends only to a non-empty string.
  void apply(std::string& t) const override {
    if (!t.empty()) prepend(t, prefix_);
  }

 private:
  std::string prefix_;  // e.g. "▁"
};

class Replace : public Normalizer {
 public:
  explicit Replace(HfReplace replace) : replace_(std::move(replace)) {}
  void apply(std::string& t) const override { replace_.apply(t); }

 private:
  HfReplace replace_;  // the pattern and its replacement
};

class Sequence : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> v) : steps_(std::move(v)) {}
  void apply(std::string& t) const override {
    for (const auto& s : steps_) s->apply(t);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;  // applied in order
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = json_string(j, "type", where);
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    static const char* const kForms[] = {"NFC", "NFD", "NFKC", "NFKD"};
    for (const char* f : kForms)
      if (type == f) return std::make_unique<UnicodeForm>(f);
  }
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "Strip") {
    return std::make_unique<Strip>(json_bool(j, "strip_left", where, true),
                                   json_bool(j, "strip_right", where, true));
  }
  if (type == "Prepend") return std::make_unique<Prepend>(json_string(j, "prepend", where));
  if (type == "Replace") return std::make_unique<Replace>(HfReplace(j, where));
  if (type == "Sequence") {
    const json& arr = json_field(j, "normalizers", where);
    if (!arr.is_array()) throw Error(where + ".normalizers: expected an array");
    std::vector<std::unique_ptr<Normalizer>> v;
    for (size_t i = 0; i < arr.size(); ++i) {
      auto n = make_normalizer(arr[i], where + ".normalizers[" + std::to_string(i) + "]");
      if (n) v.push_back(std::move(n));
    }
    return std::make_unique<Sequence>(std::move(v));
  }
  if (type == "Precompiled") {
    // An empty charsmap is the identity; a real one would need SentencePiece's trie.
    auto it = j.find("precompiled_charsmap");
    if (it == j.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty()))
      return nullptr;
    throw Error(where + ".type: Precompiled normalizer with a charsmap is not supported");
  }
  throw Error(where + ".type: unsupported normalizer \"" + type + "\"");
}

}  // namespace edgefit::tok
