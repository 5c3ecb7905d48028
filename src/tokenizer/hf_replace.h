// HF tokenizers' "Replace" step, which appears both as a normalizer and as a decoder with the same
// JSON ({"type": "Replace", "pattern": {"String": s} | {"Regex": r}, "content": c}) and the same
// meaning: every non-overlapping match, left to right, becomes `content`.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace edgefit::tok {

class Regex;

class HfReplace {
 public:
  // Built from the step's JSON object; throws Error naming `where` for a malformed pattern.
  HfReplace(const nlohmann::json& j, const std::string& where);
  ~HfReplace();
  HfReplace(HfReplace&&) noexcept;

  // Replaces every match in `text`. A regex only sees valid UTF-8 (the Rust library's strings
  // always are), so invalid bytes become U+FFFD first when a regex pattern is used.
  void apply(std::string& text) const;

 private:
  std::string literal_;        // {"String": ...} pattern ("" when a regex is used)
  std::unique_ptr<Regex> re_;  // {"Regex": ...} pattern (null when a literal is used)
  std::string content_;        // the replacement
};

}  // namespace edgefit::tok
