// Regex pre-tokenization on PCRE2 (UTF + UCP, so \p{L}, \p{N} and \s are Unicode-aware, as in
// the Rust/Oniguruma engines HF uses and llama.cpp's category-collapsing emulation).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgefit::tok {

class Regex {
 public:
  // Compiles `pattern`; throws Error quoting the pattern and PCRE2's message.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-empty matches [begin, end) (byte offsets) in `subject`, which must be valid UTF-8 and is
  // matched as a whole: look-arounds and $ see its ends, not the text around it.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view subject) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;   // source, for error messages
  void* code_ = nullptr;  // pcre2_code_8*
};

// How HF's Split pre-tokenizer treats the matched delimiters.
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// Splits `text` at the matches of `re` (or of a literal string when `re` is null), as HF's
// Split/ByteLevel do. `invert` swaps the roles of matches and gaps. Returns [begin, end) ranges.
std::vector<std::pair<size_t, size_t>> split_with_behavior(std::string_view text, const Regex* re,
                                                           std::string_view literal,
                                                           SplitBehavior behavior, bool invert);

// llama.cpp's pre-tokenizer settings for a GGUF `tokenizer.ggml.pre` name.
struct LlamaPreType {
  std::vector<std::string> regexes;  // applied in turn, each splitting every piece (Isolated)
  bool ignore_merges = false;        // a word that is a whole token is not merged (llama3, tekken)
  bool clean_spaces =
      true;  // detokenize removes " ," " ." " 's" ... (clean_up_tokenization_spaces)
  bool force_add_bos = false;  // the family sets add_bos before GGUF keys may override it
};
// Throws Error for a name llama.cpp b4748 does not know.
LlamaPreType llamacpp_pre_type(const std::string& pre);

// The regex of HF's ByteLevel pre-tokenizer with use_regex=true.
extern const char* const kGpt2HfPattern;

// Splits `text` into words: each regex in turn splits every current piece into its matches and
// the gaps between them (llama.cpp's unicode_regex_split, HF Split "Isolated").
std::vector<std::string_view> regex_split_isolated(std::string_view text,
                                                   const std::vector<std::unique_ptr<Regex>>& res);

}  // namespace edgefit::tok
