// HF tokenizer.json (+ tokenizer_config.json) to a Tokenizer with HF `tokenizers` rules.
// Supported: a BPE model (byte-level or SentencePiece-style with byte fallback), added tokens,
// the normalizers / pre-tokenizers / decoders of hf_components.h, and TemplateProcessing /
// Roberta / Bert / ByteLevel post-processors. Every malformed field gives an Error naming it.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/tokenizer_state.h"

namespace edgefit {

using nlohmann::json;

namespace {

int32_t json_id(const json& v, const std::string& where, const std::string& origin) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= (int64_t{1} << 30))
    throw Error(where + ": expected a token id (non-negative integer)", origin);
  return static_cast<int32_t>(v.get<int64_t>());
}

// A config token: "<s>" or {"content": "<s>", ...}; "" when absent/null.
std::string config_token(const json& cfg, const char* key) {
  if (!cfg.is_object() || !cfg.contains(key)) return "";
  const json& v = cfg[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return "";
}

void parse_post_processor(const json& pp, const std::string& where, tok::State& s,
                          const std::string& origin) {
  if (pp.is_null()) return;
  const std::string type = tok::json_string(pp, "type", where);
  if (type == "ByteLevel") return;  // offsets only
  if (type == "Sequence") {
    const json& arr = tok::json_field(pp, "processors", where);
    if (!arr.is_array()) throw Error(where + ".processors: expected an array", origin);
    for (size_t i = 0; i < arr.size(); ++i)
      parse_post_processor(arr[i], where + ".processors[" + std::to_string(i) + "]", s, origin);
    return;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    const auto pair_id = [&](const char* key) {
      const json& v = tok::json_field(pp, key, where);
      if (!v.is_array() || v.size() != 2)
        throw Error(where + "." + key + ": expected [token, id]", origin);
      return json_id(v[1], where + "." + key + "[1]", origin);
    };
    s.post_single = {{false, {pair_id("cls")}}, {true, {}}, {false, {pair_id("sep")}}};
    return;
  }
  if (type != "TemplateProcessing")
    throw Error(where + ".type: unsupported post_processor \"" + type + "\"", origin);
  const json& single = tok::json_field(pp, "single", where);
  const json& specials = tok::json_field(pp, "special_tokens", where);
  if (!single.is_array()) throw Error(where + ".single: expected an array", origin);
  s.post_single.clear();
  for (size_t i = 0; i < single.size(); ++i) {
    const std::string w = where + ".single[" + std::to_string(i) + "]";
    const json& item = single[i];
    if (item.is_object() && item.contains("Sequence")) {
      s.post_single.push_back({true, {}});
    } else if (item.is_object() && item.contains("SpecialToken")) {
      const std::string name = tok::json_string(item["SpecialToken"], "id", w + ".SpecialToken");
      if (!specials.is_object() || !specials.contains(name))
        throw Error(where + ".special_tokens: no entry for \"" + name + "\"", origin);
      const json& ids = tok::json_field(specials[name], "ids", where + ".special_tokens." + name);
      if (!ids.is_array())
        throw Error(where + ".special_tokens." + name + ".ids: expected an array", origin);
      tok::PostItem pi;
      for (size_t k = 0; k < ids.size(); ++k)
        pi.ids.push_back(json_id(ids[k], where + ".special_tokens." + name + ".ids", origin));
      s.post_single.push_back(std::move(pi));
    } else {
      throw Error(w + ": expected {\"Sequence\": ...} or {\"SpecialToken\": ...}", origin);
    }
  }
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_from_hf_json(std::string_view tokenizer_json,
                                                       std::string_view tokenizer_config_json,
                                                       const std::string& origin) {
  json j, cfg;
  try {
    j = json::parse(tokenizer_json);
  } catch (const json::exception& e) {
    throw Error(std::string("invalid JSON: ") + e.what(), origin);
  }
  if (!tokenizer_config_json.empty()) {
    try {
      cfg = json::parse(tokenizer_config_json);
    } catch (const json::exception& e) {
      throw Error(std::string("tokenizer_config.json: invalid JSON: ") + e.what(), origin);
    }
  }
  if (!j.is_object()) throw Error("expected a JSON object at the top level", origin);

  auto s = std::make_unique<tok::State>();
  s->origin = origin;
  s->flavor = TokenizerFlavor::HuggingFace;
  try {
    const json& model = tok::json_field(j, "model", "tokenizer");
    std::string type = model.value("type", "");
    if (type.empty() && model.contains("merges")) type = "BPE";  // old files omit the type
    if (type != "BPE")
      throw Error("model.type: unsupported model \"" + type + "\" (supported: BPE)");
    for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      if (model.contains(k) && !model[k].is_null() &&
          !(model[k].is_string() && model[k].get<std::string>().empty()))
        throw Error(std::string("model.") + k + ": not supported");
    }
    s->byte_fallback = tok::json_bool(model, "byte_fallback", "model", false);
    s->fuse_unk = tok::json_bool(model, "fuse_unk", "model", false);
    s->ignore_merges = tok::json_bool(model, "ignore_merges", "model", false);

    const json& vocab = tok::json_field(model, "vocab", "model");
    if (!vocab.is_object()) throw Error("model.vocab: expected an object {token: id}");
    int32_t n = 0;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      const json& v = it.value();
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= (int64_t{1} << 30))
        json_id(v, "model.vocab[\"" + it.key() + "\"]", origin);  // throws, naming the entry
      n = std::max(n, v.get<int32_t>() + 1);
    }
    const json& added = j.contains("added_tokens") ? j["added_tokens"] : json::array();
    if (!added.is_array()) throw Error("added_tokens: expected an array");
    for (size_t i = 0; i < added.size(); ++i)
      n = std::max(
          n, json_id(tok::json_field(added[i], "id", "added_tokens[" + std::to_string(i) + "]"),
                     "added_tokens[" + std::to_string(i) + "].id", origin) +
                 1);
    s->tokens.resize(n);
    for (auto& t : s->tokens) t.type = TokenType::Undefined;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      auto& t = s->tokens[it.value().get<int32_t>()];
      t.text = it.key();
      t.type = TokenType::Normal;
    }
    const json& merges = tok::json_field(model, "merges", "model");
    if (!merges.is_array()) throw Error("model.merges: expected an array");
    s->merges.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
      const json& m = merges[i];
      const std::string w = "model.merges[" + std::to_string(i) + "]";
      if (m.is_string()) {
        const std::string str = m.get<std::string>();
        const size_t sp = str.find(' ', 1);
        if (sp == std::string::npos) throw Error(w + ": expected \"left right\"");
        s->merges.emplace_back(str.substr(0, sp), str.substr(sp + 1));
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        s->merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      } else {
        throw Error(w + ": expected \"left right\" or [left, right]");
      }
    }
    for (size_t i = 0; i < added.size(); ++i) {
      const std::string w = "added_tokens[" + std::to_string(i) + "]";
      const json& a = added[i];
      auto& t = s->tokens[a["id"].get<int32_t>()];
      t.text = tok::json_string(a, "content", w);
      if (t.text.empty()) throw Error(w + ".content: empty");
      t.added = true;
      t.special = tok::json_bool(a, "special", w, false);
      t.lstrip = tok::json_bool(a, "lstrip", w, false);
      t.rstrip = tok::json_bool(a, "rstrip", w, false);
      t.single_word = tok::json_bool(a, "single_word", w, false);
      t.type = t.special ? TokenType::Control : TokenType::UserDefined;
    }
    if (model.contains("unk_token") && model["unk_token"].is_string()) {
      const std::string u = model["unk_token"].get<std::string>();
      for (int32_t i = 0; i < n; ++i)
        if (s->tokens[i].text == u) s->unk = i;
      if (s->unk < 0) throw Error("model.unk_token: \"" + u + "\" is not in the vocabulary");
      s->tokens[s->unk].type = TokenType::Unknown;
    }
    if (s->byte_fallback) {
      for (auto& t : s->tokens) {
        if (!t.added && t.text.size() == 6 && t.text.compare(0, 3, "<0x") == 0 && t.text[5] == '>')
          t.type = TokenType::Byte;
      }
    }

    const json null_json;
    const json& norm = j.contains("normalizer") ? j["normalizer"] : null_json;
    const json& pre = j.contains("pre_tokenizer") ? j["pre_tokenizer"] : null_json;
    s->normalizer = tok::make_normalizer(norm, "normalizer");
    s->pre_tokenizer = tok::make_pre_tokenizer(pre, "pre_tokenizer");
    s->decoder = tok::make_decoder(j.contains("decoder") ? j["decoder"] : null_json, "decoder");
    parse_post_processor(j.contains("post_processor") ? j["post_processor"] : null_json,
                         "post_processor", *s, origin);
    s->hf_normalizer_json = norm.dump();
    s->hf_pre_tokenizer_json = pre.dump();

    // What GGUF would call it.
    const tok::PreTokenizerSummary ps = tok::summarize_pre_tokenizer(pre);
    s->model = ps.byte_level ? TokenizerModel::Bpe : TokenizerModel::Spm;
    if (ps.byte_level) {
      static const std::string kLlama3 =
          R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
      static const std::string kQwen2 =
          R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
      if (ps.split_regexes.size() == 1 && ps.split_regexes[0] == kLlama3) {
        s->pre = "llama-bpe";
      } else if (ps.split_regexes.size() == 1 && ps.split_regexes[0] == kQwen2) {
        s->pre = "qwen2";
      } else if (ps.split_regexes.empty() && ps.byte_level_regex) {
        s->pre = "gpt-2";
      }
    } else {
      s->pre = "default";
      // SentencePiece-style: a space prefix comes from Prepend("▁") or Metaspace.
      const std::string nj = s->hf_normalizer_json;
      s->add_space_prefix = nj.find("\"Prepend\"") != std::string::npos || ps.metaspace;
    }

    // Special ids: tokenizer_config.json first, then the post-processor template.
    const auto id_of = [&](const std::string& text) -> int32_t {
      if (text.empty()) return -1;
      for (int32_t i = 0; i < n; ++i)
        if (s->tokens[i].text == text) return i;
      return -1;
    };
    s->bos = id_of(config_token(cfg, "bos_token"));
    s->eos = id_of(config_token(cfg, "eos_token"));
    s->pad = id_of(config_token(cfg, "pad_token"));
    if (const int32_t u = id_of(config_token(cfg, "unk_token")); u >= 0 && s->unk < 0) s->unk = u;
    if (!s->post_single.empty()) {
      const auto& first = s->post_single.front();
      const auto& last = s->post_single.back();
      if (!first.is_sequence && first.ids.size() == 1) {
        s->add_bos = true;
        if (s->bos < 0) s->bos = first.ids[0];
      }
      if (!last.is_sequence && last.ids.size() == 1 && s->post_single.size() > 1) {
        s->add_eos = true;
        if (s->eos < 0) s->eos = last.ids[0];
      }
    }
  } catch (const Error& e) {
    if (!e.file().empty()) throw;
    throw Error(e.message(), origin);
  } catch (const json::exception& e) {
    throw Error(std::string("unexpected JSON structure: ") + e.what(), origin);
  }

  s->finalize();
  s->guess_eot({"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<EOT>"});
  return std::make_unique<Tokenizer>(std::move(s));
}

}  // namespace edgefit
