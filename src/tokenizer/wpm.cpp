// WordPiece as llama.cpp's llm_tokenizer_wpm does it for BERT vocabularies: lower-case, reduce each
// code point to the first code point of its canonical decomposition (which drops accents), split
// on whitespace and around punctuation/CJK, then greedy longest-match of "▁word" against the
// vocabulary; a word with an unmatched remainder becomes [UNK].
#include <utf8proc.h>

#include "tokenizer/tokenizer_state.h"
#include "tokenizer/unicode.h"

namespace edgefit::tok {

namespace {

uint32_t nfd_first(uint32_t cpt) {
  if (cpt < 0xC0) return cpt;
  utf8proc_int32_t buf[8];
  int last = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cpt), buf, 8,
                                                     UTF8PROC_DECOMPOSE, &last);
  return n >= 1 ? static_cast<uint32_t>(buf[0]) : cpt;
}

bool is_chinese(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::vector<std::string> wpm_preprocess(std::string_view text) {
  std::vector<std::string> words(1);
  for (uint32_t raw : utf8_to_cpts(text)) {
    const uint32_t cpt = nfd_first(raw);
    if (is_whitespace_cpt(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cpt));
    const bool control = cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
                         cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS;
    if (cpt == 0 || cpt == kReplacementChar || control) continue;
    const bool punct = cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
    const bool symbol = cat >= UTF8PROC_CATEGORY_SM && cat <= UTF8PROC_CATEGORY_SO;
    const std::string s = cpt_to_utf8(to_lower_cpt(cpt));
    if (punct || (cpt < 0x7F && symbol) || is_chinese(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = s;
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

}  // namespace

void wpm_tokenize(const State& s, std::string_view text, std::vector<int32_t>& out) {
  for (const std::string& word : wpm_preprocess(text)) {
    if (word.empty()) continue;
    const std::string w = "\xE2\x96\x81" + word;
    const size_t n = w.size();
    const size_t start_size = out.size();
    for (size_t i = 0; i < n; ++i) {
      bool match = false;
      for (size_t j = std::min(n, i + s.max_token_len + 1); j > i; --j) {
        const int32_t id = s.find(std::string_view(w).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          match = true;
          i = j - 1;
          break;
        }
      }
      if (!match) {
        out.resize(start_size);
        break;
      }
    }
    if (out.size() == start_size && s.unk >= 0) out.push_back(s.unk);
  }
}

}  // namespace edgefit::tok
