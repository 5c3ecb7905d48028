// Invalid UTF-8 input behaves as the references do (llama.cpp SPM: byte fallback, so even invalid
// bytes round-trip; byte-level BPE: each invalid byte becomes U+FFFD, as llama.cpp's
// unicode_cpts_from_utf8 does), random input never crashes, and malformed tokenizer files give a
// one-line edgefit::Error naming the bad field.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "formats/gguf.h"
#include "tok_test_util.h"
#include "tokenizer/unicode.h"

namespace edgefit::test {
namespace {

TEST(InvalidUtf8, SpmUsesByteFallback) {
  const Tokenizer& tok = cached_tokenizer(vocab_gguf("llama-spm"));
  // " \xff" -> "▁" + <0xFF> (3 + 255).
  EXPECT_EQ(tok.encode("\xff", false, false), (std::vector<int32_t>{29871, 258}));
  for (const std::string s :
       {"\xff", "a\xc3", "\xe2\x82", "x\x80y", "\xed\xa0\x80", "\xf4\x90\x80\x80z"})
    EXPECT_EQ(tok.decode(tok.encode(s, false, false)), s) << to_hex(s);
  // An invalid lead byte takes the next bytes (up to the length it announces) into its symbol;
  // with no such token they all fall back to bytes: "\xff" + "▁b" -> <0xFF> <0xE2> <0x96> <0x81> b.
  const auto ids = tok.encode("\xff b", false, false);
  ASSERT_EQ(ids.size(), 6u);
  EXPECT_EQ(std::vector<int32_t>(ids.begin() + 1, ids.begin() + 5),
            (std::vector<int32_t>{3 + 0xff, 3 + 0xe2, 3 + 0x96, 3 + 0x81}));
}

TEST(InvalidUtf8, ByteLevelReplacesEachBadByte) {
  for (const std::string& path :
       {vocab_gguf("qwen2"), hf_tokenizer_json("gpt2"), hf_tokenizer_json("qwen3")}) {
    const Tokenizer& tok = cached_tokenizer(path);
    EXPECT_EQ(tok.encode("a\xff\xfe b", false, false),
              tok.encode("a\xEF\xBF\xBD\xEF\xBF\xBD b", false, false))
        << path;
    EXPECT_EQ(tok.encode("\xe2\x82", false, false),
              tok.encode("\xEF\xBF\xBD\xEF\xBF\xBD", false, false))
        << path;
  }
}

TEST(InvalidUtf8, DecodingPartialSequences) {
  // HF's ByteFallback decoder turns an incomplete UTF-8 sequence into U+FFFD per byte token.
  const Tokenizer& mistral = cached_tokenizer(hf_tokenizer_json("mistral-7b-v0.1"));
  const int32_t e2 = mistral.token_id("<0xE2>");
  ASSERT_GE(e2, 0);
  EXPECT_EQ(mistral.decode(std::vector<int32_t>{e2}), "\xEF\xBF\xBD");
  // llama.cpp hands back the raw byte.
  const Tokenizer& spm = cached_tokenizer(vocab_gguf("llama-spm"));
  EXPECT_EQ(spm.decode(std::vector<int32_t>{spm.token_id("<0xE2>")}), "\xE2");
  // Byte-level: HF decodes lossily, llama.cpp raw.
  const Tokenizer& gpt2 = cached_tokenizer(hf_tokenizer_json("gpt2"));
  EXPECT_EQ(gpt2.decode(std::vector<int32_t>{gpt2.token_id("\xC3\xA2")}), "\xEF\xBF\xBD");
  const Tokenizer& qwen2 = cached_tokenizer(vocab_gguf("qwen2"));
  EXPECT_EQ(qwen2.decode(std::vector<int32_t>{qwen2.token_id("\xC3\xA2")}), "\xE2");
  // Out-of-range ids are skipped, not a crash.
  EXPECT_EQ(spm.decode(std::vector<int32_t>{-5, 1 << 30}), "");
}

TEST(InvalidUtf8, RandomBytesNeverCrash) {
  const std::vector<std::string> paths = {
      vocab_gguf("llama-spm"),    vocab_gguf("qwen2"),
      vocab_gguf("bert-bge"),     vocab_gguf("deepseek-coder"),
      hf_tokenizer_json("qwen3"), hf_tokenizer_json("mistral-7b-v0.1")};
  const std::vector<std::string> atoms = {"a",
                                          " ",
                                          "\n",
                                          "\xff",
                                          "\xc3",
                                          "\xa9",
                                          "\xe2\x96\x81",
                                          "<s>",
                                          "</s>",
                                          "<|im_start|>",
                                          "<|endoftext|>",
                                          "1",
                                          "\xf0\x9f\xa6\x99",
                                          "'s",
                                          "\t",
                                          "\xe4\xb8\xad",
                                          "\x00"};
  std::mt19937 rng(20250221);
  for (const auto& p : paths) {
    const Tokenizer& tok = cached_tokenizer(p);
    const bool spm_llamacpp = p == vocab_gguf("llama-spm");
    for (int iter = 0; iter < 400; ++iter) {
      std::string s;
      const int n = static_cast<int>(rng() % 24);
      for (int i = 0; i < n; ++i) s += atoms[rng() % atoms.size()];
      for (bool add : {false, true}) {
        for (bool parse : {false, true}) {
          const auto ids = tok.encode(s, add, parse);
          for (int32_t id : ids)
            ASSERT_TRUE(id >= 0 && id < tok.n_vocab()) << p << " " << to_hex(s);
          (void)tok.decode(ids, false);
          (void)tok.decode(ids, true);
          // llama.cpp SPM is lossless on valid UTF-8 without a literal "▁" (its space character).
          // (An invalid lead byte swallows the next bytes into one symbol, so a following space
          // comes back as the bytes of "▁", exactly as llama.cpp does.)
          if (spm_llamacpp && !add && !parse && tok::is_valid_utf8(s) &&
              s.find("\xe2\x96\x81") == std::string::npos) {
            ASSERT_EQ(tok.decode(ids), s) << to_hex(s);
          }
        }
      }
    }
  }
}

// ---- malformed tokenizer.json ----

std::string minimal_json(const std::string& model_extra = "", const std::string& top_extra = "") {
  return R"({"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"])" + model_extra +
         R"(},"added_tokens":[],"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false})" +
         top_extra + "}";
}

// Loading `json` must throw an Error whose one-line message contains `field`.
void expect_bad(const std::string& json, const std::string& field) {
  try {
    load_tokenizer_from_hf_json(json, "", "bad/tokenizer.json");
    ADD_FAILURE() << "no error for " << json;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(field), std::string::npos) << "message: " << msg;
    EXPECT_NE(msg.find("bad/tokenizer.json"), std::string::npos) << "message: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message: " << msg;
  }
}

TEST(MalformedJson, MinimalIsValid) {
  auto tok = load_tokenizer_from_hf_json(minimal_json(), "", "ok.json");
  EXPECT_EQ(tok->encode("ab", false, false), (std::vector<int32_t>{2}));
  EXPECT_EQ(tok->encode("ba", false, false), (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(tok->model(), TokenizerModel::Bpe);
}

TEST(MalformedJson, NamesTheBadField) {
  expect_bad("{\"model\": ", "invalid JSON");
  expect_bad("[1,2]", "top level");
  expect_bad(R"({"added_tokens":[]})", "tokenizer.model: missing");
  expect_bad(R"({"model":{"type":"Unigram","vocab":[]}})", "model.type");
  expect_bad(R"({"model":{"type":"BPE","vocab":[],"merges":[]}})", "model.vocab");
  expect_bad(R"({"model":{"type":"BPE","vocab":{"a":-1},"merges":[]}})", "model.vocab[\"a\"]");
  expect_bad(R"({"model":{"type":"BPE","vocab":{"a":0}}})", "model.merges: missing");
  expect_bad(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":["ab"]}})", "model.merges[0]");
  expect_bad(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[3]}})", "model.merges[0]");
  expect_bad(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[],"byte_fallback":"yes"}})",
             "model.byte_fallback");
  expect_bad(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[],"unk_token":"<unk>"}})",
             "model.unk_token");
  expect_bad(minimal_json("", R"(,"added_tokens":[{"id":"x","content":"<s>"}])"),
             "added_tokens[0].id");
  expect_bad(minimal_json("", R"(,"added_tokens":[{"id":3}])"), "added_tokens[0].content");
  expect_bad(minimal_json("", R"(,"normalizer":{"type":"Frobnicate"})"), "normalizer.type");
  expect_bad(minimal_json("", R"(,"normalizer":{"type":"Replace","pattern":7,"content":""})"),
             "normalizer.pattern");
  expect_bad(
      minimal_json("", R"(,"normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend"}]})"),
      "normalizer.normalizers[0].prepend");
  expect_bad(
      R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Nope"}})",
      "pre_tokenizer.type");
  expect_bad(
      R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","behavior":"Isolated"}]}})",
      "pre_tokenizer.pretokenizers[0].pattern");
  expect_bad(
      R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"(a"}}})",
      "regex");
  expect_bad(
      R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"a"},"behavior":"Sideways"}})",
      "pre_tokenizer.behavior");
  expect_bad(minimal_json("", R"(,"decoder":{"type":"Strip","content":" ","start":"x","stop":0})"),
             "decoder.start");
  expect_bad(minimal_json("", R"(,"decoder":{"type":"Sequence","decoders":[{"type":"Nope"}]})"),
             "decoder.decoders[0].type");
  expect_bad(
      minimal_json(
          "",
          R"(,"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}}],"special_tokens":{}})"),
      "post_processor.special_tokens");
  expect_bad(minimal_json("", R"(,"post_processor":{"type":"Nope"})"), "post_processor.type");
}

// ---- malformed GGUF vocab / tokenizer.bin / tokenizer.model ----

void expect_bad_kv(const std::vector<GgufKV>& kv, const std::string& field) {
  try {
    load_tokenizer_from_gguf_kv(kv);
    ADD_FAILURE() << "no error, expected " << field;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

TEST(MalformedGguf, NamesTheBadKey) {
  const auto tokens = GgufValue::make_string_array({"a", "b", "ab"});
  expect_bad_kv({}, "tokenizer.ggml.model");
  expect_bad_kv(
      {{"tokenizer.ggml.model", GgufValue::make_string("t5")}, {"tokenizer.ggml.tokens", tokens}},
      "unsupported tokenizer model \"t5\"");
  expect_bad_kv({{"tokenizer.ggml.model", GgufValue::make_string("llama")}},
                "tokenizer.ggml.tokens");
  expect_bad_kv({{"tokenizer.ggml.model", GgufValue::make_string("llama")},
                 {"tokenizer.ggml.tokens", tokens},
                 {"tokenizer.ggml.scores", GgufValue::make_f32_array({0.f})}},
                "tokenizer.ggml.scores");
  expect_bad_kv({{"tokenizer.ggml.model", GgufValue::make_string("llama")},
                 {"tokenizer.ggml.tokens", tokens},
                 {"tokenizer.ggml.token_type", GgufValue::make_i32_array({1, 1, 9})}},
                "tokenizer.ggml.token_type[2]");
  expect_bad_kv(
      {{"tokenizer.ggml.model", GgufValue::make_string("gpt2")}, {"tokenizer.ggml.tokens", tokens}},
      "tokenizer.ggml.merges");
  expect_bad_kv({{"tokenizer.ggml.model", GgufValue::make_string("gpt2")},
                 {"tokenizer.ggml.tokens", tokens},
                 {"tokenizer.ggml.merges", GgufValue::make_string_array({"a b"})},
                 {"tokenizer.ggml.pre", GgufValue::make_string("no-such-pre")}},
                "tokenizer.ggml.pre \"no-such-pre\"");
}

TEST(MalformedFiles, Llama2cAndSentencePiece) {
  const std::string bin = read_text(shared_path("models/stories260K/llama2c/tok512.bin"));
  try {
    load_tokenizer_from_llama2c(bin.substr(0, 1000), "tok512.bin");
    ADD_FAILURE() << "truncated tokenizer.bin loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "tok512.bin");
    EXPECT_NE(e.offset(), Error::kNoOffset);
  }
  const std::string model = read_text(shared_path("models/polyglot/hf/tokenizer.model"));
  EXPECT_THROW(load_tokenizer_from_sentencepiece(model.substr(0, 5000), "tokenizer.model"), Error);
  EXPECT_THROW(load_tokenizer_from_sentencepiece(std::string("\x0a\xff\xff\xff\xff\x0f", 6), "m"),
               Error);
  EXPECT_THROW(load_tokenizer(shared_path("models/polyglot/README.md")), Error);
  EXPECT_THROW(load_tokenizer("/nonexistent/tokenizer.json"), Error);
}

}  // namespace
}  // namespace edgefit::test
