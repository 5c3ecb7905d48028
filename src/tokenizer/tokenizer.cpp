// Tokenizer: encode/decode dispatch over the flavor (llama.cpp or HF rules) and the model.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "tokenizer/tokenizer_state.h"
#include "tokenizer/unicode.h"

namespace edgefit {

using tok::Fragment;
using tok::State;
using tok::TokenData;

namespace tok {

void State::finalize() {
  const int32_t n = static_cast<int32_t>(tokens.size());
  if (n == 0) throw Error("tokenizer has an empty vocabulary", origin);
  text_to_id.clear();
  text_to_id.reserve(tokens.size() * 2);
  max_token_len = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (tokens[i].type == TokenType::Undefined && tokens[i].text.empty()) continue;  // a hole
    text_to_id[tokens[i].text] = i;
    max_token_len = std::max(max_token_len, tokens[i].text.size());
  }
  for (int32_t* id : {&bos, &eos, &unk, &pad, &sep, &eot})
    if (!valid(*id)) *id = -1;

  byte_token.fill(-1);
  for (int b = 0; b < 256; ++b) {
    if (model == TokenizerModel::Bpe && !byte_fallback) {
      byte_token[b] = find(byte_to_unicode(static_cast<uint8_t>(b)));
      continue;
    }
    char hex[8];
    std::snprintf(hex, sizeof(hex), "<0x%02X>", b);
    byte_token[b] = find(hex);
    if (byte_token[b] < 0 && model == TokenizerModel::Spm && flavor == TokenizerFlavor::LlamaCpp) {
      const char c = static_cast<char>(b);
      byte_token[b] = find(std::string_view(&c, 1));
    }
  }

  merge_table.clear();
  merges_text.clear();
  merge_table.reserve(merges.size() * 2);
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    merges_text.push_back(a + " " + b);
    const int32_t ia = find(a), ib = find(b), im = find(a + b);
    if (ia < 0 || ib < 0 || im < 0) continue;  // cannot apply: a side or the result is unknown
    const uint64_t key =
        (static_cast<uint64_t>(static_cast<uint32_t>(ia)) << 32) | static_cast<uint32_t>(ib);
    merge_table.emplace(key, std::make_pair(static_cast<int32_t>(r), im));
  }

  pre_regexes.clear();
  if (flavor == TokenizerFlavor::LlamaCpp && model == TokenizerModel::Bpe) {
    for (const auto& re : llamacpp_pre_type(pre.empty() ? "default" : pre).regexes)
      pre_regexes.push_back(std::make_unique<Regex>(re));
  }

  special_cache.clear();
  added_ids.clear();
  for (auto& v : added_by_byte) v.clear();
  for (int32_t i = 0; i < n; ++i) {
    const TokenData& t = tokens[i];
    if (t.text.empty()) continue;
    if (t.type == TokenType::Control || t.type == TokenType::UserDefined ||
        t.type == TokenType::Unknown)
      special_cache.push_back(i);
    if (t.added) added_ids.push_back(i);
  }
  std::stable_sort(special_cache.begin(), special_cache.end(), [&](int32_t a, int32_t b) {
    return tokens[a].text.size() > tokens[b].text.size();
  });
  for (int32_t id : added_ids)
    added_by_byte[static_cast<uint8_t>(tokens[id].text[0])].push_back(id);
}

}  // namespace tok

namespace {

// SentencePiece's remove_extra_whitespaces: trim, and collapse runs of spaces.
std::string collapse_spaces(std::string_view t) {
  std::string out;
  bool pending = false;
  for (char c : t) {
    if (c == ' ') {
      pending = !out.empty();
      continue;
    }
    if (pending) out += ' ';
    pending = false;
    out += c;
  }
  return out;
}

void encode_llamacpp(const State& s, std::string_view text, bool add_special, bool parse_special,
                     std::vector<int32_t>& out) {
  const std::vector<Fragment> frags = tok::partition_llamacpp(s, text, parse_special);
  switch (s.model) {
    case TokenizerModel::Spm: {
      if (add_special && s.add_bos && s.bos >= 0) out.push_back(s.bos);
      bool prev_special = true;  // a dummy-prefix space at the start and after specials
      for (const Fragment& f : frags) {
        if (f.token >= 0) {
          out.push_back(f.token);
          prev_special = true;
          continue;
        }
        std::string t(text.substr(f.begin, f.end - f.begin));
        if (s.remove_extra_whitespaces) {
          t = collapse_spaces(t);
          if (t.empty()) continue;
        }
        if (s.add_space_prefix && prev_special) tok::prepend(t, " ");
        tok::spm_tokenize(s, tok::spm_escape(t), out);
        prev_special = false;
      }
      if (add_special && s.add_eos && s.eos >= 0) out.push_back(s.eos);
      break;
    }
    case TokenizerModel::Bpe: {
      if (add_special && s.add_bos && s.bos >= 0) out.push_back(s.bos);
      for (const Fragment& f : frags) {
        if (f.token >= 0) {
          out.push_back(f.token);
          continue;
        }
        const std::string t = tok::sanitize_utf8(text.substr(f.begin, f.end - f.begin));
        for (std::string_view w : tok::regex_split_isolated(t, s.pre_regexes))
          tok::bpe_tokenize_word(s, tok::bytes_to_byte_level(w), false, out);
      }
      if (add_special && s.add_eos && s.eos >= 0) out.push_back(s.eos);
      break;
    }
    case TokenizerModel::Wpm: {
      if (add_special && s.bos >= 0) out.push_back(s.bos);
      for (const Fragment& f : frags) {
        if (f.token >= 0) {
          out.push_back(f.token);
        } else {
          tok::wpm_tokenize(s, text.substr(f.begin, f.end - f.begin), out);
        }
      }
      if (add_special && s.add_sep && s.sep >= 0) out.push_back(s.sep);
      break;
    }
  }
}

void encode_hf(const State& s, std::string_view text, bool add_special, std::vector<int32_t>& out) {
  std::vector<int32_t> ids;
  std::vector<tok::HfPiece> pieces;
  for (const Fragment& f : tok::partition_hf(s, text)) {
    if (f.token >= 0) {
      ids.push_back(f.token);
      continue;
    }
    std::string t = tok::sanitize_utf8(text.substr(f.begin, f.end - f.begin));
    if (s.normalizer) s.normalizer->apply(t);
    pieces.clear();
    pieces.push_back({std::move(t), f.begin == 0});
    if (s.pre_tokenizer) s.pre_tokenizer->apply(pieces);
    for (const auto& p : pieces) tok::bpe_tokenize_word(s, p.text, true, ids);
  }
  if (!add_special || s.post_single.empty()) {
    out.insert(out.end(), ids.begin(), ids.end());
    return;
  }
  for (const auto& item : s.post_single) {
    if (item.is_sequence) {
      out.insert(out.end(), ids.begin(), ids.end());
    } else {
      out.insert(out.end(), item.ids.begin(), item.ids.end());
    }
  }
}

// llama.cpp token_to_piece: the bytes of one token.
std::string piece_llamacpp(const State& s, int32_t id, bool special) {
  if (!s.valid(id)) return "";
  const TokenData& t = s.tokens[id];
  switch (t.type) {
    case TokenType::Unknown:
    case TokenType::Control:
      return special ? t.text : std::string();
    case TokenType::UserDefined:
      return t.text;
    case TokenType::Normal:
      if (s.model == TokenizerModel::Bpe) {
        std::string r;
        for (uint32_t c : tok::utf8_to_cpts(t.text)) {
          const int b = tok::unicode_to_byte(c);
          if (b >= 0) {
            r += static_cast<char>(b);
          } else {
            const std::string u = tok::cpt_to_utf8(c);
            r += "[UNK_BYTE_0x";
            for (char ch : u) {
              char hex[4];
              std::snprintf(hex, sizeof(hex), "%02x", static_cast<uint8_t>(ch));
              r += hex;
            }
            r += t.text + "]";
          }
        }
        return r;
      } else {
        std::string r;
        for (size_t p = 0; p < t.text.size();) {
          if (t.text.compare(p, 3, "\xE2\x96\x81") == 0) {
            r += ' ';
            p += 3;
          } else {
            r += t.text[p++];
          }
        }
        return r;
      }
    case TokenType::Byte:
      if (s.model != TokenizerModel::Bpe && t.text.size() >= 4) {
        return std::string(1, static_cast<char>(std::strtol(t.text.c_str() + 3, nullptr, 16)));
      }
      return "";
    default:
      return "";
  }
}

// llama.cpp detokenize's clean_up_tokenization_spaces passes.
void clean_spaces(std::string& text) {
  auto pass = [&](auto&& body) {
    const size_t total_in = text.size();
    size_t total = total_in ? 1 : 0;
    for (size_t i = 1; i < total_in; ++i) body(i, total, total_in);
    text.resize(total);
  };
  // " ?", " !", " .", " ,": remove the space
  pass([&](size_t& i, size_t& total, size_t) {
    const char x = text[i];
    if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    text[total++] = x;
  });
  // " ' ": remove both spaces
  pass([&](size_t& i, size_t& total, size_t n) {
    const char x = text[i];
    if (x == '\'' && i + 1 < n && text[i - 1] == ' ' && text[i + 1] == ' ') {
      --total;
      text[++i] = '\0';
    }
    text[total++] = x;
  });
  // " 's", " 'm", " 're", " 've": remove the space
  pass([&](size_t& i, size_t& total, size_t n) {
    const char x = text[i];
    if (text[i - 1] == ' ' && x == '\'' && i + 1 < n) {
      const char x1 = text[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (i + 2 < n) {
        const char x2 = text[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    text[total++] = x;
  });
}

std::string decode_llamacpp(const State& s, std::span<const int32_t> ids, bool skip_special) {
  std::string out;
  bool remove_space = s.add_space_prefix;
  for (int32_t id : ids) {
    std::string p = piece_llamacpp(s, id, !skip_special);
    if (remove_space && !p.empty() && p[0] == ' ') p.erase(0, 1);
    remove_space = false;
    out += p;
  }
  if (s.clean_spaces) clean_spaces(out);
  return out;
}

std::string decode_hf(const State& s, std::span<const int32_t> ids, bool skip_special) {
  std::vector<std::string> toks;
  toks.reserve(ids.size());
  for (int32_t id : ids) {
    if (!s.valid(id)) continue;
    const TokenData& t = s.tokens[id];
    if (skip_special && t.special) continue;
    toks.push_back(t.text);
  }
  if (!s.decoder) {
    std::string out;
    for (size_t i = 0; i < toks.size(); ++i) out += (i ? " " : "") + toks[i];
    return out;
  }
  s.decoder->decode_chain(toks);
  std::string out;
  for (const auto& t : toks) out += t;
  return out;
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<tok::State> state) : state_(std::move(state)) {}
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  if (state_->flavor == TokenizerFlavor::HuggingFace) {
    encode_hf(*state_, text, add_special, out);
  } else {
    encode_llamacpp(*state_, text, add_special, parse_special, out);
  }
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  return state_->flavor == TokenizerFlavor::HuggingFace
             ? decode_hf(*state_, ids, skip_special)
             : decode_llamacpp(*state_, ids, skip_special);
}

std::string Tokenizer::token_to_bytes(int32_t id) const {
  const State& s = *state_;
  if (s.flavor == TokenizerFlavor::LlamaCpp) return piece_llamacpp(s, id, true);
  if (!s.valid(id)) return "";
  const TokenData& t = s.tokens[id];
  if (t.added) return t.text;
  if (s.pre_tokenizer && s.pre_tokenizer->byte_level()) {
    std::string r;
    for (uint32_t c : tok::utf8_to_cpts(t.text)) {
      const int b = tok::unicode_to_byte(c);
      if (b < 0) return t.text;
      r += static_cast<char>(b);
    }
    return r;
  }
  if (t.type == TokenType::Byte) return piece_llamacpp(s, id, true);
  std::string r;
  for (size_t p = 0; p < t.text.size();) {
    if (t.text.compare(p, 3, "\xE2\x96\x81") == 0) {
      r += ' ';
      p += 3;
    } else {
      r += t.text[p++];
    }
  }
  return r;
}

std::string Tokenizer::token_piece(int32_t id) const {
  return state_->valid(id) ? state_->tokens[id].text : std::string();
}
float Tokenizer::token_score(int32_t id) const {
  return state_->valid(id) ? state_->tokens[id].score : 0.0f;
}
TokenType Tokenizer::token_type(int32_t id) const {
  return state_->valid(id) ? state_->tokens[id].type : TokenType::Undefined;
}
int32_t Tokenizer::token_id(std::string_view piece) const {
  return state_->find(piece);
}
int32_t Tokenizer::n_vocab() const {
  return static_cast<int32_t>(state_->tokens.size());
}
int32_t Tokenizer::bos_id() const {
  return state_->bos;
}
int32_t Tokenizer::eos_id() const {
  return state_->eos;
}
int32_t Tokenizer::unk_id() const {
  return state_->unk;
}
int32_t Tokenizer::pad_id() const {
  return state_->pad;
}
int32_t Tokenizer::eot_id() const {
  return state_->eot;
}
bool Tokenizer::add_bos() const {
  return state_->add_bos;
}
bool Tokenizer::add_eos() const {
  return state_->add_eos;
}
bool Tokenizer::is_eog(int32_t id) const {
  return id >= 0 && (id == state_->eos || id == state_->eot);
}
TokenizerModel Tokenizer::model() const {
  return state_->model;
}
TokenizerFlavor Tokenizer::flavor() const {
  return state_->flavor;
}
const std::string& Tokenizer::pre_name() const {
  return state_->pre;
}
const std::vector<std::string>& Tokenizer::merges() const {
  return state_->merges_text;
}

}  // namespace edgefit
