// Tokenizer -> GGUF `tokenizer.ggml.*` metadata, laid out as llama.cpp's converters write it, so
// a model exported from HF files tokenizes the same in llama.cpp.
//  * byte-level BPE (HF or GGUF): model "gpt2", the pre-tokenizer name, tokens, token types,
//    merges "left right";
//  * SentencePiece-style: model "llama", tokens, scores, token types. An HF file has merge ranks
//    instead of scores; llama.cpp's SPM merges the highest score first, so the token a merge of
//    rank r produces gets score -r (tokens no merge produces rank below every merge result).
#include <limits>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer_state.h"

namespace edgefit {

std::vector<GgufKV> tokenizer_to_gguf_kv(const Tokenizer& tokenizer) {
  const tok::State& s = tokenizer.state();
  const bool hf = s.flavor == TokenizerFlavor::HuggingFace;
  const int32_t n = static_cast<int32_t>(s.tokens.size());
  std::vector<GgufKV> kv;

  std::string model = s.model == TokenizerModel::Spm   ? "llama"
                      : s.model == TokenizerModel::Bpe ? "gpt2"
                                                       : "bert";
  std::string pre = s.pre;
  if (s.model == TokenizerModel::Bpe && pre.empty())
    throw Error(
        "cannot name this pre-tokenizer for tokenizer.ggml.pre (known: gpt-2, llama-bpe, qwen2)",
        s.origin);
  if (hf && s.model == TokenizerModel::Spm && s.hf_pre_tokenizer_json != "null" &&
      s.hf_pre_tokenizer_json.find("Metaspace") == std::string::npos)
    throw Error(
        "this SentencePiece-style tokenizer.json has a pre-tokenizer llama.cpp cannot express",
        s.origin);
  kv.push_back({"tokenizer.ggml.model", GgufValue::make_string(model)});
  kv.push_back({"tokenizer.ggml.pre", GgufValue::make_string(pre.empty() ? "default" : pre)});

  std::vector<std::string> texts(n);
  std::vector<int32_t> types(n);
  for (int32_t i = 0; i < n; ++i) {
    const tok::TokenData& t = s.tokens[i];
    texts[i] = t.text;
    TokenType ty = t.type;
    if (t.text.empty() && ty == TokenType::Undefined) {
      texts[i] = "[PAD" + std::to_string(i) + "]";
      ty = TokenType::Unused;
    } else if (hf && t.added && !t.special) {
      // convert_hf_to_gguf: added tokens that look special become CONTROL.
      const bool looks = (t.text.starts_with("<|") && t.text.ends_with("|>")) ||
                         t.text == "<pad>" || t.text == "<mask>";
      ty = looks ? TokenType::Control : TokenType::UserDefined;
    }
    types[i] = static_cast<int32_t>(ty);
  }
  kv.push_back({"tokenizer.ggml.tokens", GgufValue::make_string_array(texts)});

  if (s.model == TokenizerModel::Spm) {
    std::vector<float> scores(n, 0.0f);
    if (!hf) {
      for (int32_t i = 0; i < n; ++i) scores[i] = s.tokens[i].score;
    } else {
      std::vector<bool> has(n, false);
      for (const auto& [key, rv] : s.merge_table) {
        const auto [rank, id] = rv;
        if (!has[id] || -static_cast<float>(rank) > scores[id])
          scores[id] = -static_cast<float>(rank);
        has[id] = true;
      }
      const float floor = -static_cast<float>(s.merges.size());
      for (int32_t i = 0; i < n; ++i) {
        if (!has[i] && s.tokens[i].type == TokenType::Normal)
          scores[i] = floor - static_cast<float>(i);
      }
    }
    kv.push_back({"tokenizer.ggml.scores", GgufValue::make_f32_array(scores)});
  }
  kv.push_back({"tokenizer.ggml.token_type", GgufValue::make_i32_array(types)});
  if (s.model == TokenizerModel::Bpe)
    kv.push_back({"tokenizer.ggml.merges", GgufValue::make_string_array(s.merges_text)});

  const auto put_id = [&](const char* key, int32_t id) {
    if (id >= 0) kv.push_back({key, GgufValue::make_u32(static_cast<uint32_t>(id))});
  };
  put_id("tokenizer.ggml.bos_token_id", s.bos);
  put_id("tokenizer.ggml.eos_token_id", s.eos);
  put_id("tokenizer.ggml.unknown_token_id", s.unk);
  put_id("tokenizer.ggml.seperator_token_id", s.sep);
  put_id("tokenizer.ggml.padding_token_id", s.pad);
  kv.push_back({"tokenizer.ggml.add_bos_token", GgufValue::make_bool(s.add_bos)});
  kv.push_back({"tokenizer.ggml.add_eos_token", GgufValue::make_bool(s.add_eos)});
  if (s.model == TokenizerModel::Spm)
    kv.push_back({"tokenizer.ggml.add_space_prefix", GgufValue::make_bool(s.add_space_prefix)});
  return kv;
}

}  // namespace edgefit
