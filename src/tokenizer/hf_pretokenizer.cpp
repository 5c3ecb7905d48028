// HF tokenizer.json pre-tokenizers: ByteLevel, Split, Metaspace, Digits, Punctuation,
// Whitespace, WhitespaceSplit and Sequence.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/hf_components.h"
#include "tokenizer/pretokenizer_regex.h"
#include "tokenizer/unicode.h"

namespace edgefit::tok {

using nlohmann::json;

namespace {

const char* const kMetaspace = "\xE2\x96\x81";  // U+2581 '▁'

// Splits every piece with `re` (or `literal`) under `behavior`; the first sub-piece keeps `first`.
void split_pieces(std::vector<HfPiece>& pieces, const Regex* re, std::string_view literal,
                  SplitBehavior behavior, bool invert) {
  std::vector<HfPiece> out;
  out.reserve(pieces.size() * 2);
  for (auto& p : pieces) {
    for (auto [b, e] : split_with_behavior(p.text, re, literal, behavior, invert))
      out.push_back({p.text.substr(b, e - b), p.first && b == 0});
  }
  pieces.swap(out);
}

SplitBehavior parse_behavior(const json& j, const std::string& where) {
  auto it = j.find("behavior");
  if (it == j.end()) return SplitBehavior::Isolated;
  if (!it->is_string()) throw Error(where + ".behavior: expected a string");
  const std::string b = it->get<std::string>();
  if (b == "Removed") return SplitBehavior::Removed;
  if (b == "Isolated") return SplitBehavior::Isolated;
  if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (b == "Contiguous") return SplitBehavior::Contiguous;
  throw Error(where + ".behavior: unknown split behavior \"" + b + "\"");
}

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space),
        re_(use_regex ? std::make_unique<Regex>(kGpt2HfPattern) : nullptr) {}
  void apply(std::vector<HfPiece>& pieces) const override {
    if (add_prefix_space_) {
      for (auto& p : pieces)
        if (p.text.empty() || p.text[0] != ' ') prepend(p.text, " ");
    }
    if (re_) split_pieces(pieces, re_.get(), "", SplitBehavior::Isolated, false);
    for (auto& p : pieces) p.text = bytes_to_byte_level(p.text);
  }
  bool byte_level() const override { return true; }

 private:
  bool add_prefix_space_;      // prepend ' ' to splits that do not start with one
  std::unique_ptr<Regex> re_;  // GPT-2 regex when use_regex
};

class Split : public PreTokenizer {
 public:
  Split(std::string literal, std::unique_ptr<Regex> re, SplitBehavior b, bool invert)
      : literal_(std::move(literal)), re_(std::move(re)), behavior_(b), invert_(invert) {}
  void apply(std::vector<HfPiece>& pieces) const override {
    split_pieces(pieces, re_.get(), literal_, behavior_, invert_);
  }

 private:
  std::string literal_;        // {"String": ...} pattern
  std::unique_ptr<Regex> re_;  // {"Regex": ...} pattern
  SplitBehavior behavior_;     // what happens to the delimiters
  bool invert_;                // the pattern matches the kept parts instead
};

class Metaspace : public PreTokenizer {
 public:
  Metaspace(std::string replacement, std::string scheme, bool split)
      : rep_(std::move(replacement)), scheme_(std::move(scheme)), split_(split) {}
  void apply(std::vector<HfPiece>& pieces) const override {
    for (auto& p : pieces) {
      std::string t;
      t.reserve(p.text.size() + 3);
      for (char c : p.text) {
        if (c == ' ') {
          t += rep_;
        } else {
          t += c;
        }
      }
      const bool starts = t.compare(0, rep_.size(), rep_) == 0;
      if (!starts && (scheme_ == "always" || (scheme_ == "first" && p.first))) prepend(t, rep_);
      p.text.swap(t);
    }
    if (split_) split_pieces(pieces, nullptr, rep_, SplitBehavior::MergedWithNext, false);
  }

 private:
  std::string rep_;     // replacement for ' ' (normally "▁")
  std::string scheme_;  // prepend_scheme: "always", "first" or "never"
  bool split_;          // split before each replacement char
};

class RegexSplit : public PreTokenizer {
 public:
  RegexSplit(const std::string& pattern, SplitBehavior b, bool invert)
      : re_(std::make_unique<Regex>(pattern)), behavior_(b), invert_(invert) {}
  void apply(std::vector<HfPiece>& pieces) const override {
    split_pieces(pieces, re_.get(), "", behavior_, invert_);
  }

 private:
  std::unique_ptr<Regex> re_;  // delimiter pattern
  SplitBehavior behavior_;     // what happens to the delimiters
  bool invert_;                // the pattern matches the kept parts instead
};

class Sequence : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> v) : steps_(std::move(v)) {}
  void apply(std::vector<HfPiece>& pieces) const override {
    for (const auto& s : steps_) s->apply(pieces);
  }
  bool byte_level() const override {
    for (const auto& s : steps_)
      if (s->byte_level()) return true;
    return false;
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;  // applied in order
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = json_string(j, "type", where);
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevel>(json_bool(j, "add_prefix_space", where, true),
                                       json_bool(j, "use_regex", where, true));
  }
  if (type == "Split") {
    const json& pat = json_field(j, "pattern", where);
    const SplitBehavior b = parse_behavior(j, where);
    const bool inv = json_bool(j, "invert", where, false);
    if (pat.is_object() && pat.contains("String") && pat["String"].is_string())
      return std::make_unique<Split>(pat["String"].get<std::string>(), nullptr, b, inv);
    if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string())
      return std::make_unique<Split>("", std::make_unique<Regex>(pat["Regex"].get<std::string>()),
                                     b, inv);
    throw Error(where + ".pattern: expected {\"String\": ...} or {\"Regex\": ...}");
  }
  if (type == "Metaspace") {
    std::string rep = kMetaspace;
    if (j.contains("replacement")) rep = json_string(j, "replacement", where);
    std::string scheme = "always";
    if (j.contains("prepend_scheme")) {
      scheme = json_string(j, "prepend_scheme", where);
      if (scheme != "always" && scheme != "first" && scheme != "never")
        throw Error(where + ".prepend_scheme: unknown value \"" + scheme + "\"");
    } else if (!json_bool(j, "add_prefix_space", where, true)) {
      scheme = "never";
    }
    return std::make_unique<Metaspace>(rep, scheme, json_bool(j, "split", where, true));
  }
  if (type == "Digits") {
    const bool individual = json_bool(j, "individual_digits", where, false);
    return std::make_unique<RegexSplit>(
        R"(\p{N})", individual ? SplitBehavior::Isolated : SplitBehavior::Contiguous, false);
  }
  if (type == "Punctuation") {
    return std::make_unique<RegexSplit>(R"([\p{P}!-/:-@\[-`{-~])", parse_behavior(j, where), false);
  }
  if (type == "Whitespace") {
    return std::make_unique<RegexSplit>(R"(\w+|[^\w\s]+)", SplitBehavior::Removed, true);
  }
  if (type == "WhitespaceSplit") {
    return std::make_unique<RegexSplit>(R"(\s+)", SplitBehavior::Removed, false);
  }
  if (type == "Sequence") {
    const json& arr = json_field(j, "pretokenizers", where);
    if (!arr.is_array()) throw Error(where + ".pretokenizers: expected an array");
    std::vector<std::unique_ptr<PreTokenizer>> v;
    for (size_t i = 0; i < arr.size(); ++i) {
      auto p = make_pre_tokenizer(arr[i], where + ".pretokenizers[" + std::to_string(i) + "]");
      if (p) v.push_back(std::move(p));
    }
    return std::make_unique<Sequence>(std::move(v));
  }
  throw Error(where + ".type: unsupported pre_tokenizer \"" + type + "\"");
}

PreTokenizerSummary summarize_pre_tokenizer(const json& j) {
  PreTokenizerSummary s;
  if (!j.is_object()) return s;
  const std::string type = j.value("type", "");
  if (type == "Sequence" && j.contains("pretokenizers") && j["pretokenizers"].is_array()) {
    for (const auto& e : j["pretokenizers"]) {
      auto sub = summarize_pre_tokenizer(e);
      s.split_regexes.insert(s.split_regexes.end(), sub.split_regexes.begin(),
                             sub.split_regexes.end());
      s.byte_level |= sub.byte_level;
      s.byte_level_regex |= sub.byte_level_regex;
      s.metaspace |= sub.metaspace;
      s.digits |= sub.digits;
    }
  } else if (type == "ByteLevel") {
    s.byte_level = true;
    s.byte_level_regex = j.value("use_regex", true);
  } else if (type == "Split" && j.contains("pattern") && j["pattern"].is_object() &&
             j["pattern"].contains("Regex") && j["pattern"]["Regex"].is_string()) {
    s.split_regexes.push_back(j["pattern"]["Regex"].get<std::string>());
  } else if (type == "Metaspace") {
    s.metaspace = true;
  } else if (type == "Digits") {
    s.digits = true;
  }
  return s;
}

}  // namespace edgefit::tok
