// Splitting input text at special / added tokens before the model sees it.
//  * llama.cpp (tokenizer_st_partition): one special token at a time, longest text first, every
//    occurrence in every remaining text fragment; user-defined tokens always, control and unknown
//    tokens only with parse_special.
//  * HF (AddedVocabulary): scanning left to right, the longest added token starting at the
//    leftmost position wins; lstrip/rstrip swallow neighbouring whitespace.
#include <cctype>

#include "tokenizer/tokenizer_state.h"

namespace edgefit::tok {

std::vector<Fragment> partition_llamacpp(const State& s, std::string_view text,
                                         bool parse_special) {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, text.size()});
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  for (const int32_t id : s.special_cache) {
    const TokenData& td = s.tokens[id];
    if (!parse_special && (td.type == TokenType::Control || td.type == TokenType::Unknown))
      continue;
    const std::string& tt = td.text;
    if (text.find(tt) == std::string_view::npos) continue;  // cheap reject for the common case
    std::vector<Fragment> next;
    next.reserve(frags.size() + 2);
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.begin;
      size_t end = f.end;
      while (true) {
        const size_t m = text.find(tt, pos);
        if (m == std::string_view::npos || m + tt.size() > end) {
          if (pos < end) next.push_back({-1, pos, end});
          break;
        }
        size_t left_end = m;
        if (td.lstrip)
          while (left_end > pos && is_space(text[left_end - 1])) --left_end;
        if (left_end > pos) next.push_back({-1, pos, left_end});
        next.push_back({id, 0, 0});
        pos = m + tt.size();
        if (td.rstrip)
          while (pos < end && is_space(text[pos])) ++pos;
        if (pos >= end) break;
      }
    }
    frags.swap(next);
  }
  return frags;
}

namespace {

bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || u >= 0x80;
}

}  // namespace

std::vector<Fragment> partition_hf(const State& s, std::string_view text) {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  size_t prev = 0;  // end of the last emitted piece
  size_t i = 0;
  while (i < text.size()) {
    int32_t best = -1;
    size_t best_len = 0;
    for (const int32_t id : s.added_by_byte[static_cast<uint8_t>(text[i])]) {
      const TokenData& td = s.tokens[id];
      const std::string& t = td.text;
      if (t.size() <= best_len) continue;
      if (text.compare(i, t.size(), t) != 0) continue;
      if (td.single_word) {
        const bool before = i > 0 && is_word_byte(text[i - 1]);
        const bool after = i + t.size() < text.size() && is_word_byte(text[i + t.size()]);
        if (before || after) continue;
      }
      best = id;
      best_len = t.size();
    }
    if (best < 0) {
      ++i;
      continue;
    }
    const TokenData& td = s.tokens[best];
    size_t start = i, end = i + best_len;
    if (td.lstrip)
      while (start > prev && is_space(text[start - 1])) --start;
    if (td.rstrip)
      while (end < text.size() && is_space(text[end])) ++end;
    if (start > prev) frags.push_back({-1, prev, start});
    frags.push_back({best, 0, 0});
    prev = i = end;
  }
  if (prev < text.size()) frags.push_back({-1, prev, text.size()});
  return frags;
}

}  // namespace edgefit::tok
