// UTF-8 and GPT-2 byte-level helpers shared by the tokenizer algorithms.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edgefit::tok {

constexpr uint32_t kReplacementChar = 0xFFFD;

// Length of the UTF-8 sequence a lead byte announces, as llama.cpp's unicode_len_utf8 computes it
// (1 for continuation/invalid bytes), so SPM splits invalid input exactly as it does.
inline size_t utf8_len(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

void append_utf8(std::string& out, uint32_t cpt);
std::string cpt_to_utf8(uint32_t cpt);

// Strictly decodes one code point at `pos` and advances; returns false (pos unchanged) on an
// invalid, truncated, overlong or surrogate sequence.
bool decode_utf8(std::string_view s, size_t& pos, uint32_t& cpt);
bool is_valid_utf8(std::string_view s);

// Code points of `s`; every byte that does not start a valid sequence becomes U+FFFD, as
// llama.cpp's unicode_cpts_from_utf8 does.
std::vector<uint32_t> utf8_to_cpts(std::string_view s);
// `s` with each invalid byte replaced by U+FFFD (one per byte, llama.cpp's rule): the regex
// engine needs valid UTF-8.
std::string sanitize_utf8(std::string_view s);
// Replacement the way Rust's String::from_utf8_lossy / the WHATWG decoder does it: one U+FFFD per
// maximal invalid subpart. Used where HF tokenizers decode bytes back to a string.
std::string utf8_lossy(std::string_view s);

// GPT-2 byte-level mapping: each byte to a printable code point (UTF-8 encoded) and back.
const std::string& byte_to_unicode(uint8_t b);
// The byte a byte-level code point stands for; -1 if the code point is not in the mapping.
int unicode_to_byte(uint32_t cpt);
// Maps every byte of `s` through byte_to_unicode.
std::string bytes_to_byte_level(std::string_view s);

// Unicode properties needed outside the regex engine (via utf8proc).
bool is_whitespace_cpt(uint32_t cpt);

// s = p + s (written out because GCC 12 raises a false -Wrestrict on std::string::insert(0, "x")).
inline void prepend(std::string& s, std::string_view p) {
  std::string r;
  r.reserve(p.size() + s.size());
  r.append(p);
  r.append(s);
  s.swap(r);
}  // Unicode White_Space
uint32_t to_lower_cpt(uint32_t cpt);

}  // namespace edgefit::tok
