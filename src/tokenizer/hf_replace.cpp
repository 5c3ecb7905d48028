#include "tokenizer/hf_replace.h"

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "core/error.h"
#include "tokenizer/hf_components.h"
#include "tokenizer/pretokenizer_regex.h"
#include "tokenizer/unicode.h"

namespace edgefit::tok {

HfReplace::HfReplace(const nlohmann::json& j, const std::string& where) {
  const nlohmann::json& pat = json_field(j, "pattern", where);
  content_ = json_string(j, "content", where);
  if (pat.is_object() && pat.contains("String") && pat["String"].is_string())
    literal_ = pat["String"].get<std::string>();
  else if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string())
    re_ = std::make_unique<Regex>(pat["Regex"].get<std::string>());
  else
    throw Error(where + ".pattern: expected {\"String\": ...} or {\"Regex\": ...}");
}

HfReplace::~HfReplace() = default;
HfReplace::HfReplace(HfReplace&&) noexcept = default;

void HfReplace::apply(std::string& t) const {
  std::vector<std::pair<size_t, size_t>> m;
  if (re_) {
    if (!is_valid_utf8(t)) t = sanitize_utf8(t);
    m = re_->find_all(t);
  } else if (!literal_.empty()) {
    for (size_t p = 0; (p = t.find(literal_, p)) != std::string::npos; p += literal_.size())
      m.emplace_back(p, p + literal_.size());
  }
  if (m.empty()) return;
  std::string out;
  size_t prev = 0;
  for (auto [b, e] : m) {
    out.append(t, prev, b - prev);
    out += content_;
    prev = e;
  }
  out.append(t, prev, std::string::npos);
  t.swap(out);
}

}  // namespace edgefit::tok
