#include "tokenizer/pretokenizer_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>

#include "core/error.h"

namespace edgefit::tok {

namespace {

// One JIT stack per thread, shared by every pattern: the default 32 KiB is too small for long runs
// of spaces under look-ahead, and allocating per call would dominate short inputs.
struct JitStack {
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* ctx = nullptr;
  JitStack() {
    stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    ctx = pcre2_match_context_create(nullptr);
    if (stack && ctx) pcre2_jit_stack_assign(ctx, nullptr, stack);
  }
  ~JitStack() {
    if (ctx) pcre2_match_context_free(ctx);
    if (stack) pcre2_jit_stack_free(stack);
  }
};

pcre2_match_context* thread_match_context() {
  thread_local JitStack js;
  return js.ctx;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof(buf));
  return reinterpret_cast<const char*>(buf);
}

}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  // DOLLAR_ENDONLY: `$` means end of subject, as in Rust/Oniguruma/std::regex (not "before a
  // final newline").
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &err_off, nullptr);
  if (!code) {
    throw Error("bad pre-tokenizer regex at offset " + std::to_string(err_off) + ": " +
                pcre2_message(err) + " in \"" + pattern + "\"");
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if unavailable
  code_ = code;
}

Regex::~Regex() {
  pcre2_code_free(static_cast<pcre2_code*>(code_));
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view subject) const {
  std::vector<std::pair<size_t, size_t>> out;
  auto* code = static_cast<pcre2_code*>(code_);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t start = 0;
  while (start <= subject.size()) {
    const int rc =
        pcre2_match(code, s, subject.size(), start, PCRE2_NO_UTF_CHECK, md, thread_match_context());
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(md);
      throw Error("pre-tokenizer regex failed: " + pcre2_message(rc) + " in \"" + pattern_ + "\"");
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t b = ov[0], e = ov[1];
    if (e > b) {
      out.emplace_back(b, e);
      start = e;
    } else {
      // Empty match: step over one whole code point.
      if (b >= subject.size()) break;
      size_t step = 1;
      while (b + step < subject.size() && (static_cast<uint8_t>(subject[b + step]) & 0xC0) == 0x80)
        ++step;
      start = b + step;
    }
  }
  pcre2_match_data_free(md);
  return out;
}

std::vector<std::pair<size_t, size_t>> split_with_behavior(std::string_view text, const Regex* re,
                                                           std::string_view literal,
                                                           SplitBehavior behavior, bool invert) {
  std::vector<std::pair<size_t, size_t>> matches;
  if (re) {
    matches = re->find_all(text);
  } else if (!literal.empty()) {
    size_t p = 0;
    while ((p = text.find(literal, p)) != std::string_view::npos) {
      matches.emplace_back(p, p + literal.size());
      p += literal.size();
    }
  }
  // Segments covering the text: (range, is_delimiter).
  struct Seg {
    size_t b, e;  // byte range
    bool m;       // true for a delimiter
  };
  std::vector<Seg> segs;
  size_t prev = 0;
  for (auto [b, e] : matches) {
    if (b > prev) segs.push_back({prev, b, invert});
    segs.push_back({b, e, !invert});
    prev = e;
  }
  if (prev < text.size()) segs.push_back({prev, text.size(), invert});

  std::vector<Seg> acc;
  bool prev_match = false;
  switch (behavior) {
    case SplitBehavior::Removed:
      for (const auto& s : segs)
        if (!s.m) acc.push_back(s);
      break;
    case SplitBehavior::Isolated:
      acc = segs;
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const auto& s : segs) {
        if (s.m && !prev_match && !acc.empty()) {
          acc.back().e = s.e;
        } else {
          acc.push_back(s);
        }
        prev_match = s.m;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        if (it->m && !prev_match && !acc.empty()) {
          acc.back().b = it->b;
        } else {
          acc.push_back(*it);
        }
        prev_match = it->m;
      }
      std::reverse(acc.begin(), acc.end());
      break;
    case SplitBehavior::Contiguous:
      for (const auto& s : segs) {
        if (s.m && prev_match && !acc.empty()) {
          acc.back().e = s.e;
        } else {
          acc.push_back(s);
        }
        prev_match = s.m;
      }
      break;
  }
  std::vector<std::pair<size_t, size_t>> out;
  out.reserve(acc.size());
  for (const auto& s : acc)
    if (s.e > s.b) out.emplace_back(s.b, s.e);
  return out;
}

const char* const kGpt2HfPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// The patterns of llama.cpp's llm_tokenizer_bpe (b4748), written for PCRE2. Where llama.cpp
// rewrote a (?i:...) group as explicit [sS] classes, so do we: a caseless match would also accept
// U+017F for 's' and U+212A for 'k', which llama.cpp does not.
const char* const kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
const char* const kContractions = R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]))";
const std::string kLlama3 =
    std::string(kContractions) +
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string kQwen2 =
    std::string(kContractions) +
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kCjk = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+";

bool is_one_of(const std::string& s, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (s == n) return true;
  return false;
}

}  // namespace

LlamaPreType llamacpp_pre_type(const std::string& pre) {
  LlamaPreType t;
  if (pre == "default") {
    t.regexes = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
  } else if (is_one_of(pre, {"llama3", "llama-v3", "llama-bpe", "falcon3"})) {
    t.regexes = {kLlama3};
    t.ignore_merges = true;
    t.force_add_bos = true;
  } else if (is_one_of(pre, {"dbrx", "smaug-bpe"})) {
    t.regexes = {kLlama3};
  } else if (pre == "deepseek-llm") {
    // llama.cpp lists the cased letters (Lu/Ll/Lt) range by range; \p{L&} is that set.
    t.regexes = {"[\r\n]",
                 R"(\s?\p{L&}+)",
                 "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
                 R"(\s+$)",
                 kCjk,
                 R"(\p{N}+)"};
    t.clean_spaces = false;
  } else if (pre == "deepseek-coder") {
    t.regexes = {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjk, R"(\p{N})"};
    t.clean_spaces = false;
  } else if (pre == "deepseek-v3") {
    t.regexes = {
        R"(\p{N}{1,3})", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
        R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
    t.clean_spaces = false;
  } else if (pre == "falcon") {
    t.regexes = {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"};
  } else if (is_one_of(pre,
                       {"mpt", "olmo", "jais", "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat",
                        "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code", "roberta-bpe"})) {
    t.regexes = {kGpt2};
  } else if (is_one_of(pre, {"starcoder", "refact", "codeshell", "exaone", "minerva-7b"})) {
    t.regexes = {R"(\p{N})", kGpt2};
  } else if (is_one_of(pre, {"command-r", "smollm"})) {
    t.regexes = {R"(\p{N})", kGpt2};
    t.clean_spaces = false;
  } else if (is_one_of(pre, {"qwen2", "deepseek-r1-qwen", "megrez"})) {
    t.regexes = {kQwen2};
    t.clean_spaces = false;
  } else if (pre == "stablelm2") {
    t.regexes = {kQwen2};
  } else if (is_one_of(pre, {"poro-chat", "bloom", "gpt3-finnish"})) {
    t.regexes = {" ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+"};
    t.clean_spaces = pre != "poro-chat";
  } else if (pre == "viking") {
    t.regexes = {" ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+", R"(\p{N})"};
    t.clean_spaces = false;
  } else if (pre == "chatglm-bpe") {
    t.regexes = {
        R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
  } else if (pre == "tekken") {
    t.regexes = {
        R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
    t.ignore_merges = true;
    t.force_add_bos = true;
    t.clean_spaces = false;
  } else if (pre == "chameleon") {
    t.regexes = {"<sentinel:[0-9]+>",       "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
                 "([\\t\\n]|    |  )",      R"(\p{N})",
                 R"([\p{P}!-/:-@\[-`{-~])", kGpt2};
    t.force_add_bos = true;
    t.clean_spaces = false;
  } else if (pre == "gpt-4o") {
    t.regexes = {
        R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
  } else {
    throw Error("unsupported tokenizer.ggml.pre \"" + pre + "\"");
  }
  return t;
}

std::vector<std::string_view> regex_split_isolated(std::string_view text,
                                                   const std::vector<std::unique_ptr<Regex>>& res) {
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text);
  for (const auto& re : res) {
    std::vector<std::string_view> next;
    next.reserve(pieces.size() * 2);
    for (std::string_view p : pieces) {
      size_t prev = 0;
      for (auto [b, e] : re->find_all(p)) {
        if (b > prev) next.push_back(p.substr(prev, b - prev));
        next.push_back(p.substr(b, e - b));
        prev = e;
      }
      if (prev < p.size()) next.push_back(p.substr(prev));
    }
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace edgefit::tok
