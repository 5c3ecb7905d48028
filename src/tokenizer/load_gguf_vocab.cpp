// GGUF `tokenizer.ggml.*` metadata to a Tokenizer with llama.cpp's (b4748) rules: the defaults
// llama_vocab::load applies per model and pre-tokenizer, then the GGUF keys that override them.
#include <functional>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer_state.h"

namespace edgefit {

namespace {

using Lookup = std::function<const GgufValue*(std::string_view)>;

const GgufValue& need_array(const Lookup& kv, const char* key, GgufType elem,
                            const std::string& origin) {
  const GgufValue* v = kv(key);
  if (!v) throw Error(std::string(key) + ": missing", origin);
  if (v->type != GgufType::ARRAY) throw Error(std::string(key) + ": expected an array", origin);
  if (elem == GgufType::STRING && v->elem_type != GgufType::STRING)
    throw Error(std::string(key) + ": expected an array of strings", origin);
  return *v;
}

std::optional<int64_t> opt_int(const Lookup& kv, const char* key, const std::string& origin) {
  const GgufValue* v = kv(key);
  if (!v) return std::nullopt;
  if (!v->is_integer()) throw Error(std::string(key) + ": expected an integer", origin);
  return v->as_int();
}

std::optional<bool> opt_bool(const Lookup& kv, const char* key, const std::string& origin) {
  const GgufValue* v = kv(key);
  if (!v) return std::nullopt;
  if (v->type == GgufType::BOOL) return v->u != 0;
  if (v->is_integer()) return v->as_int() != 0;
  throw Error(std::string(key) + ": expected a bool", origin);
}

std::unique_ptr<Tokenizer> load_from_lookup(const Lookup& kv, const std::string& origin) {
  auto s = std::make_unique<tok::State>();
  s->origin = origin;
  s->flavor = TokenizerFlavor::LlamaCpp;
  const GgufValue* mv = kv("tokenizer.ggml.model");
  if (!mv) throw Error("tokenizer.ggml.model: missing (no vocabulary in this GGUF)", origin);
  if (mv->type != GgufType::STRING) throw Error("tokenizer.ggml.model: expected a string", origin);
  const std::string model = mv->str;

  const GgufValue& toks = need_array(kv, "tokenizer.ggml.tokens", GgufType::STRING, origin);
  const size_t n = toks.arr.size();
  if (n == 0 || n > (1u << 30)) throw Error("tokenizer.ggml.tokens: bad token count", origin);
  s->tokens.resize(n);
  for (size_t i = 0; i < n; ++i) s->tokens[i].text = toks.arr[i].str;
  if (const GgufValue* sc = kv("tokenizer.ggml.scores")) {
    if (sc->type != GgufType::ARRAY || sc->arr.size() != n)
      throw Error("tokenizer.ggml.scores: expected " + std::to_string(n) + " numbers", origin);
    for (size_t i = 0; i < n; ++i) s->tokens[i].score = static_cast<float>(sc->arr[i].as_double());
  }
  if (const GgufValue* tt = kv("tokenizer.ggml.token_type")) {
    if (tt->type != GgufType::ARRAY || tt->arr.size() != n)
      throw Error("tokenizer.ggml.token_type: expected " + std::to_string(n) + " integers", origin);
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = tt->arr[i].as_int();
      if (t < 0 || t > 6)
        throw Error(
            "tokenizer.ggml.token_type[" + std::to_string(i) + "]: bad type " + std::to_string(t),
            origin);
      s->tokens[i].type = static_cast<TokenType>(t);
    }
  }

  // Per-model defaults (llama_vocab::impl::load).
  if (model == "llama") {
    s->model = TokenizerModel::Spm;
    s->bos = 1;
    s->eos = 2;
    s->unk = 0;
    s->add_space_prefix = true;
    s->clean_spaces = false;
    s->add_bos = true;
    s->pre = "default";
  } else if (model == "gpt2") {
    s->model = TokenizerModel::Bpe;
    s->bos = 11;
    s->eos = 11;
    const GgufValue& mg = need_array(kv, "tokenizer.ggml.merges", GgufType::STRING, origin);
    s->merges.reserve(mg.arr.size());
    for (size_t i = 0; i < mg.arr.size(); ++i) {
      const std::string& m = mg.arr[i].str;
      const size_t sp = m.find(' ', 1);
      if (sp == std::string::npos)
        throw Error("tokenizer.ggml.merges[" + std::to_string(i) + "]: no space in \"" + m + "\"",
                    origin);
      s->merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
    }
    const GgufValue* pv = kv("tokenizer.ggml.pre");
    s->pre = pv && pv->type == GgufType::STRING ? pv->str : "default";
    const tok::LlamaPreType pt = tok::llamacpp_pre_type(s->pre);
    s->ignore_merges = pt.ignore_merges;
    s->clean_spaces = pt.clean_spaces;
    s->add_bos = pt.force_add_bos;
  } else if (model == "bert") {
    s->model = TokenizerModel::Wpm;
    s->bos = 101;
    s->unk = 100;
    s->sep = 102;
    s->pad = 0;
    s->clean_spaces = true;
    s->add_bos = true;
    s->add_sep = true;
    s->pre = "default";
  } else {
    throw Error("tokenizer.ggml.model: unsupported tokenizer model \"" + model +
                    "\" (supported: llama, gpt2, bert)",
                origin);
  }
  if (auto v = opt_bool(kv, "tokenizer.ggml.add_space_prefix", origin)) s->add_space_prefix = *v;

  // Special ids: an id outside the vocabulary keeps the default, as llama.cpp warns and does.
  const auto set_id = [&](const char* key, int32_t& id) {
    if (auto v = opt_int(kv, key, origin))
      if (*v >= 0 && *v < static_cast<int64_t>(n)) id = static_cast<int32_t>(*v);
  };
  set_id("tokenizer.ggml.bos_token_id", s->bos);
  set_id("tokenizer.ggml.eos_token_id", s->eos);
  set_id("tokenizer.ggml.unknown_token_id", s->unk);
  set_id("tokenizer.ggml.seperator_token_id", s->sep);
  set_id("tokenizer.ggml.padding_token_id", s->pad);
  set_id("tokenizer.ggml.eot_token_id", s->eot);
  if (s->model == TokenizerModel::Wpm) set_id("tokenizer.ggml.cls_token_id", s->bos);
  if (auto v = opt_bool(kv, "tokenizer.ggml.add_bos_token", origin)) s->add_bos = *v;
  if (auto v = opt_bool(kv, "tokenizer.ggml.add_eos_token", origin)) s->add_eos = *v;

  s->finalize();
  if (s->eot < 0)
    s->guess_eot({"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
                  "<\xEF\xBD\x9C"
                  "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"});
  return std::make_unique<Tokenizer>(std::move(s));
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_from_gguf(const GgufFile& gguf) {
  return load_from_lookup([&](std::string_view key) { return gguf.find(key); }, gguf.path());
}

std::unique_ptr<Tokenizer> load_tokenizer_from_gguf_kv(const std::vector<GgufKV>& kvs) {
  return load_from_lookup(
      [&](std::string_view key) -> const GgufValue* {
        for (const auto& kv : kvs)
          if (kv.key == key) return &kv.value;
        return nullptr;
      },
      "<gguf metadata>");
}

}  // namespace edgefit
