#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <array>

namespace edgefit::tok {

void append_utf8(std::string& out, uint32_t cpt) {
  if (cpt < 0x80) {
    out += static_cast<char>(cpt);
  } else if (cpt < 0x800) {
    out += static_cast<char>(0xC0 | (cpt >> 6));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  } else if (cpt < 0x10000) {
    out += static_cast<char>(0xE0 | (cpt >> 12));
    out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cpt >> 18));
    out += static_cast<char>(0x80 | ((cpt >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  }
}

std::string cpt_to_utf8(uint32_t cpt) {
  std::string s;
  append_utf8(s, cpt);
  return s;
}

bool decode_utf8(std::string_view s, size_t& pos, uint32_t& cpt) {
  const size_t n = s.size() - pos;
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[pos + i]); };
  const auto cont = [&](size_t i) { return (b(i) & 0xC0) == 0x80; };
  const uint8_t c0 = b(0);
  if (c0 < 0x80) {
    cpt = c0;
    pos += 1;
    return true;
  }
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    if (n < 2 || !cont(1)) return false;
    cpt = ((c0 & 0x1Fu) << 6) | (b(1) & 0x3Fu);
    pos += 2;
    return true;
  }
  if (c0 >= 0xE0 && c0 <= 0xEF) {
    if (n < 3 || !cont(1) || !cont(2)) return false;
    cpt = ((c0 & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
    if (cpt < 0x800 || (cpt >= 0xD800 && cpt <= 0xDFFF)) return false;
    pos += 3;
    return true;
  }
  if (c0 >= 0xF0 && c0 <= 0xF4) {
    if (n < 4 || !cont(1) || !cont(2) || !cont(3)) return false;
    cpt = ((c0 & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
    if (cpt < 0x10000 || cpt > 0x10FFFF) return false;
    pos += 4;
    return true;
  }
  return false;
}

bool is_valid_utf8(std::string_view s) {
  size_t pos = 0;
  uint32_t c = 0;
  while (pos < s.size()) {
    if (!decode_utf8(s, pos, c)) return false;
  }
  return true;
}

std::vector<uint32_t> utf8_to_cpts(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    uint32_t c = 0;
    if (decode_utf8(s, pos, c)) {
      out.push_back(c);
    } else {
      out.push_back(kReplacementChar);
      ++pos;
    }
  }
  return out;
}

std::string sanitize_utf8(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (uint32_t c : utf8_to_cpts(s)) append_utf8(out, c);
  return out;
}

std::string utf8_lossy(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    uint32_t c = 0;
    const size_t start = pos;
    if (decode_utf8(s, pos, c)) {
      out.append(s.substr(start, pos - start));
      continue;
    }
    // Maximal subpart: a valid lead byte followed by as many valid continuation bytes as still
    // fit a well-formed prefix is replaced by one U+FFFD.
    const uint8_t c0 = static_cast<uint8_t>(s[pos]);
    size_t need = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c0 >= 0xC2 && c0 <= 0xDF) {
      need = 1;
    } else if (c0 >= 0xE0 && c0 <= 0xEF) {
      need = 2;
      if (c0 == 0xE0) lo = 0xA0;
      if (c0 == 0xED) hi = 0x9F;
    } else if (c0 >= 0xF0 && c0 <= 0xF4) {
      need = 3;
      if (c0 == 0xF0) lo = 0x90;
      if (c0 == 0xF4) hi = 0x8F;
    }
    size_t len = 1;
    for (size_t i = 0; i < need && pos + len < s.size(); ++i) {
      const uint8_t cb = static_cast<uint8_t>(s[pos + len]);
      if (cb < lo || cb > hi) break;
      lo = 0x80;
      hi = 0xBF;
      ++len;
    }
    append_utf8(out, kReplacementChar);
    pos += len;
  }
  return out;
}

namespace {

struct ByteLevelTables {
  std::array<std::string, 256> to_unicode;  // byte -> UTF-8 of its printable stand-in
  std::array<int16_t, 512> to_byte;         // stand-in code point (< 512) -> byte, or -1
  ByteLevelTables() {
    to_byte.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const uint32_t cpt = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
      to_unicode[b] = cpt_to_utf8(cpt);
      to_byte[cpt] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTables& byte_tables() {
  static const ByteLevelTables t;
  return t;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t b) {
  return byte_tables().to_unicode[b];
}

int unicode_to_byte(uint32_t cpt) {
  return cpt < 512 ? byte_tables().to_byte[cpt] : -1;
}

std::string bytes_to_byte_level(std::string_view s) {
  const auto& t = byte_tables();
  std::string out;
  out.reserve(s.size() * 2);
  for (char c : s) out += t.to_unicode[static_cast<uint8_t>(c)];
  return out;
}

bool is_whitespace_cpt(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

uint32_t to_lower_cpt(uint32_t cpt) {
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cpt)));
}

}  // namespace edgefit::tok
