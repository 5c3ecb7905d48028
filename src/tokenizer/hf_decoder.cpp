// HF tokenizer.json decoders: ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace,
// WordPiece and Sequence. Each works on the token strings in turn, as `decode_chain` does.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/hf_components.h"
#include "tokenizer/hf_replace.h"
#include "tokenizer/pretokenizer_regex.h"
#include "tokenizer/unicode.h"

namespace edgefit::tok {

using nlohmann::json;

namespace {

class ByteLevelDecoder : public Decoder {
 public:
  // All tokens to bytes through the inverse byte-level map (a token with an unmapped char is
  // taken as its raw bytes), then one lossy UTF-8 conversion, as the Rust library does.
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      std::string tb;
      bool ok = true;
      for (uint32_t c : utf8_to_cpts(t)) {
        const int b = unicode_to_byte(c);
        if (b < 0) {
          ok = false;
          break;
        }
        tb += static_cast<char>(b);
      }
      bytes += ok ? tb : t;
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;  // bytes of consecutive <0xNN> tokens
    size_t n_pending = 0;
    auto flush = [&] {
      if (n_pending == 0) return;
      if (is_valid_utf8(pending)) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < n_pending; ++i) out.push_back("\xEF\xBF\xBD");
      }
      pending.clear();
      n_pending = 0;
    };
    for (auto& t : tokens) {
      int byte = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        const auto hex = [](char c) {
          if (c >= '0' && c <= '9') return c - '0';
          if (c >= 'A' && c <= 'F') return c - 'A' + 10;
          if (c >= 'a' && c <= 'f') return c - 'a' + 10;
          return -1;
        };
        const int hi = hex(t[3]), lo = hex(t[4]);
        if (hi >= 0 && lo >= 0) byte = hi * 16 + lo;
      }
      if (byte >= 0) {
        pending += static_cast<char>(byte);
        ++n_pending;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens.swap(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, all);
  }
};

class ReplaceDecoder : public Decoder {
 public:
  explicit ReplaceDecoder(HfReplace replace) : replace_(std::move(replace)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) replace_.apply(t);
  }

 private:
  HfReplace replace_;  // the pattern and its replacement
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(uint32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      auto cpts = utf8_to_cpts(t);
      size_t b = 0, e = cpts.size();
      for (size_t i = 0; i < start_ && b < e && cpts[b] == content_; ++i) ++b;
      for (size_t i = 0; i < stop_ && e > b && cpts[e - 1] == content_; ++i) --e;
      if (b == 0 && e == cpts.size()) continue;
      std::string out;
      for (size_t i = b; i < e; ++i) append_utf8(out, cpts[i]);
      t.swap(out);
    }
  }

 private:
  uint32_t content_;  // the character stripped
  size_t start_;      // at most this many from the left of each token
  size_t stop_;       // at most this many from the right
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string rep, bool strip_first) : rep_(std::move(rep)), strip_(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      std::string out;
      for (size_t p = 0; p < t.size();) {
        if (!rep_.empty() && t.compare(p, rep_.size(), rep_) == 0) {
          out += ' ';
          p += rep_.size();
        } else {
          out += t[p++];
        }
      }
      if (i == 0 && strip_ && !out.empty() && out[0] == ' ') out.erase(0, 1);
      t.swap(out);
    }
  }

 private:
  std::string rep_;  // the space stand-in ("▁")
  bool strip_;       // the first token loses the prepended space
};

class WordPieceDecoder : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup)
      : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i != 0) {
        if (t.compare(0, prefix_.size(), prefix_) == 0) {
          t.erase(0, prefix_.size());
        } else {
          prepend(t, " ");
        }
      }
      if (cleanup_) t = cleanup(t);
    }
  }

 private:
  static std::string cleanup(const std::string& s) {
    static const std::pair<const char*, const char*> kRules[] = {
        {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
        {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
        {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    std::string r = s;
    for (auto [from, to] : kRules) {
      std::string out;
      const std::string f = from;
      size_t prev = 0;
      for (size_t p; (p = r.find(f, prev)) != std::string::npos; prev = p + f.size()) {
        out.append(r, prev, p - prev);
        out += to;
      }
      out.append(r, prev, std::string::npos);
      r.swap(out);
    }
    return r;
  }
  std::string prefix_;  // continuation marker ("##")
  bool cleanup_;        // apply clean_up_tokenization
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> v) : steps_(std::move(v)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& s : steps_) s->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;  // applied in order
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = json_string(j, "type", where);
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Replace") return std::make_unique<ReplaceDecoder>(HfReplace(j, where));
  if (type == "Strip") {
    const std::string content = json_string(j, "content", where);
    const auto cpts = utf8_to_cpts(content);
    if (cpts.size() != 1) throw Error(where + ".content: expected one character");
    const json& start = json_field(j, "start", where);
    const json& stop = json_field(j, "stop", where);
    if (!start.is_number_unsigned() || !stop.is_number_unsigned())
      throw Error(where + ".start/stop: expected non-negative integers");
    return std::make_unique<StripDecoder>(cpts[0], start.get<size_t>(), stop.get<size_t>());
  }
  if (type == "Metaspace") {
    std::string rep = "\xE2\x96\x81";
    if (j.contains("replacement")) rep = json_string(j, "replacement", where);
    bool strip = json_bool(j, "add_prefix_space", where, true);
    if (j.contains("prepend_scheme")) strip = json_string(j, "prepend_scheme", where) != "never";
    return std::make_unique<MetaspaceDecoder>(rep, strip);
  }
  if (type == "WordPiece") {
    std::string prefix = "##";
    if (j.contains("prefix")) prefix = json_string(j, "prefix", where);
    return std::make_unique<WordPieceDecoder>(prefix, json_bool(j, "cleanup", where, true));
  }
  if (type == "Sequence") {
    const json& arr = json_field(j, "decoders", where);
    if (!arr.is_array()) throw Error(where + ".decoders: expected an array");
    std::vector<std::unique_ptr<Decoder>> v;
    for (size_t i = 0; i < arr.size(); ++i) {
      auto d = make_decoder(arr[i], where + ".decoders[" + std::to_string(i) + "]");
      if (d) v.push_back(std::move(d));
    }
    return std::make_unique<SequenceDecoder>(std::move(v));
  }
  throw Error(where + ".type: unsupported decoder \"" + type + "\"");
}

}  // namespace edgefit::tok
