// tokenizer_to_gguf_kv: metadata written from a loaded tokenizer reloads as a llama.cpp-rules
// tokenizer that matches the GGUF llama.cpp's own converters made for the same model.
#include "formats/gguf_writer.h"

#include <gtest/gtest.h>

#include <set>

#include "formats/gguf.h"
#include "tok_test_util.h"

namespace edgefit::test {
namespace {

// Element i of two arrays are equal (strings by text, numbers by value).
bool same_elem(const GgufValue& a, const GgufValue& b) {
  if (a.type == GgufType::STRING || b.type == GgufType::STRING)
    return a.str == b.str && a.type == b.type;
  return a.as_double() == b.as_double();
}

const GgufValue* find_kv(const std::vector<GgufKV>& kv, const std::string& key) {
  for (const auto& e : kv)
    if (e.key == key) return &e.value;
  return nullptr;
}

// The same encodings on all 308 strings (the reloaded tokenizer follows llama.cpp rules).
void expect_same_encodings(const Tokenizer& a, const Tokenizer& b, bool parse_special,
                           const std::string& what, const std::set<int>& allowed = {},
                           bool check_add = true) {
  std::string bad;
  for (const auto& c : common_strings()) {
    const int idx = c["idx"].get<int>();
    const std::string t = c["text"].get<std::string>();
    if (allowed.count(idx)) continue;
    for (bool add : {false, true}) {
      if (add && !check_add) continue;
      if (a.encode(t, add, parse_special) != b.encode(t, add, parse_special))
        bad += std::to_string(idx) + (add ? "+ " : " ");
    }
  }
  EXPECT_TRUE(bad.empty()) << what << ": differ at " << bad;
}

TEST(GgufVocabWriter, GgufRoundTripIsExact) {
  for (const std::string name : {"llama-spm", "qwen2", "bert-bge", "deepseek-coder"}) {
    const std::string path = vocab_gguf(name);
    GgufFile g(path);
    const Tokenizer& orig = cached_tokenizer(path);
    const auto kv = tokenizer_to_gguf_kv(orig);
    for (const char* key :
         {"tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
          "tokenizer.ggml.token_type", "tokenizer.ggml.merges"}) {
      const GgufValue* want = g.find(key);
      const GgufValue* got = find_kv(kv, key);
      ASSERT_EQ(want == nullptr, got == nullptr) << name << " " << key;
      if (!want) continue;
      ASSERT_EQ(got->arr.size(), want->arr.size()) << name << " " << key;
      for (size_t i = 0; i < want->arr.size(); ++i) {
        ASSERT_TRUE(same_elem(got->arr[i], want->arr[i])) << name << " " << key << "[" << i << "]";
      }
    }
    auto reloaded = load_tokenizer_from_gguf_kv(kv);
    expect_same_encodings(orig, *reloaded, true, name);
    EXPECT_EQ(reloaded->add_bos(), orig.add_bos());
    EXPECT_EQ(reloaded->bos_id(), orig.bos_id());
    EXPECT_EQ(reloaded->eos_id(), orig.eos_id());
  }
}

TEST(GgufVocabWriter, SentencePieceModelMatchesPolyglotGguf) {
  const Tokenizer& spm = cached_tokenizer(shared_path("models/polyglot/hf/tokenizer.model"));
  const std::string gpath = shared_path("models/polyglot/gguf/polyglot-f32.gguf");
  GgufFile g(gpath);
  const auto kv = tokenizer_to_gguf_kv(spm);
  for (const char* key :
       {"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"}) {
    const GgufValue* want = g.find(key);
    const GgufValue* got = find_kv(kv, key);
    ASSERT_TRUE(want && got) << key;
    ASSERT_EQ(got->arr.size(), want->arr.size());
    for (size_t i = 0; i < want->arr.size(); ++i) {
      ASSERT_TRUE(same_elem(got->arr[i], want->arr[i])) << key << i;
    }
  }
  EXPECT_EQ(find_kv(kv, "tokenizer.ggml.model")->str, "llama");
  expect_same_encodings(cached_tokenizer(gpath), *load_tokenizer_from_gguf_kv(kv), true,
                        "polyglot");
}

// HF exports: tokens, types and merges as convert_hf_to_gguf writes them; the reloaded vocab
// tokenizes like the reference GGUF of the same model.
TEST(GgufVocabWriter, HfExportsMatchReferenceGgufs) {
  struct M {
    std::string hf, gguf;  // tokenizer.json and the reference GGUF
    std::set<int> nfc;     // strings where HF NFC-normalizes and llama.cpp does not
    bool same_bos;         // the GGUF's add_bos agrees with the tokenizer.json template
  };
  const std::vector<M> models = {
      {shared_path("models/stories260K/hf/tokenizer.json"),
       shared_path("models/stories260K/gguf/stories260K-f32.gguf"),
       {},
       true},
      {shared_path("ref/models/tiny-llama/hf/tokenizer.json"),
       shared_path("ref/models/tiny-llama/gguf/tiny-llama-f32.gguf"),
       {},
       true},
      {shared_path("ref/models/tiny-qwen2/hf/tokenizer.json"),
       shared_path("ref/models/tiny-qwen2/gguf/tiny-qwen2-f32.gguf"),
       {},
       true},
      // This llama3 tokenizer.json (Llama-Guard-2) adds no BOS; llama.cpp's llama-bpe does.
      {hf_tokenizer_json("llama3"), vocab_gguf("llama-bpe"), {}, false},
  };
  for (const auto& m : models) {
    const Tokenizer& hf = cached_tokenizer(m.hf);
    const auto kv = tokenizer_to_gguf_kv(hf);
    GgufFile g(m.gguf);
    for (const char* key : {"tokenizer.ggml.model", "tokenizer.ggml.pre"}) {
      if (!g.find(key)) continue;
      EXPECT_EQ(find_kv(kv, key)->str, g.get_string(key)) << m.hf << " " << key;
    }
    for (const char* key :
         {"tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"}) {
      const GgufValue* want = g.find(key);
      const GgufValue* got = find_kv(kv, key);
      if (!want) continue;
      ASSERT_TRUE(got) << key;
      ASSERT_EQ(got->arr.size(), want->arr.size()) << m.hf << " " << key;
      size_t diff = 0;
      for (size_t i = 0; i < want->arr.size(); ++i) diff += !same_elem(got->arr[i], want->arr[i]);
      EXPECT_EQ(diff, 0u) << m.hf << " " << key;
    }
    // Written to a real file and loaded back through load_tokenizer.
    GgufWriter w;
    for (const auto& e : kv) w.set(e.key, e.value);
    const std::string out = scratch_dir("tok-writer") + "/vocab.gguf";
    w.write(out);
    auto reloaded = load_tokenizer(out);
    EXPECT_EQ(reloaded->flavor(), TokenizerFlavor::LlamaCpp);
    expect_same_encodings(cached_tokenizer(m.gguf), *reloaded, true, m.hf, m.nfc, m.same_bos);
  }
}

}  // namespace
}  // namespace edgefit::test
