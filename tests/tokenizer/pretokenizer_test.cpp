// Pre-tokenizer families without reference vocabularies here (falcon, deepseek-llm, smollm, ...):
// every `tokenizer.ggml.pre` name llama.cpp b4748 knows compiles, and its pieces cover the text
// exactly (a byte-level vocabulary with no merges gives one token per byte, in order). Also the
// non-legacy HF Llama layout (Metaspace pre-tokenizer instead of Prepend/Replace normalizers).
#include <gtest/gtest.h>

#include "core/error.h"
#include "formats/gguf.h"
#include "tok_test_util.h"
#include "tokenizer/pretokenizer_regex.h"
#include "tokenizer/unicode.h"

namespace edgefit::test {
namespace {

const char* const kPreNames[] = {"default",     "llama3",       "llama-v3",
                                 "llama-bpe",   "falcon3",      "dbrx",
                                 "smaug-bpe",   "deepseek-llm", "deepseek-coder",
                                 "deepseek-v3", "falcon",       "mpt",
                                 "olmo",        "jais",         "gpt-2",
                                 "phi-2",       "roberta-bpe",  "jina-v2-code",
                                 "starcoder",   "refact",       "codeshell",
                                 "exaone",      "minerva-7b",   "command-r",
                                 "smollm",      "qwen2",        "deepseek-r1-qwen",
                                 "megrez",      "stablelm2",    "poro-chat",
                                 "bloom",       "gpt3-finnish", "viking",
                                 "chatglm-bpe", "tekken",       "chameleon",
                                 "gpt-4o"};

TEST(PreTokenizers, EveryLlamaCppNameSplitsLosslessly) {
  // 256 byte-level tokens, no merges: each byte of each piece becomes its own token.
  std::vector<std::string> toks;
  for (int b = 0; b < 256; ++b) toks.push_back(tok::byte_to_unicode(static_cast<uint8_t>(b)));
  const std::string text =
      "Hello  world!! It's 2025, don't\tstop\n\n  ÜBER-größe 12345 ١٢٣ 中文字符 日本語テキスト "
      "한국어 \xF0\x9F\xA6\x99 <s> $+<=>^~|` x  ";
  std::vector<int32_t> want;
  for (unsigned char c : text) want.push_back(c);
  for (const char* pre : kPreNames) {
    const std::vector<GgufKV> kv = {
        {"tokenizer.ggml.model", GgufValue::make_string("gpt2")},
        {"tokenizer.ggml.pre", GgufValue::make_string(pre)},
        {"tokenizer.ggml.tokens", GgufValue::make_string_array(toks)},
        {"tokenizer.ggml.merges", GgufValue::make_string_array({})},
    };
    std::unique_ptr<Tokenizer> t;
    ASSERT_NO_THROW(t = load_tokenizer_from_gguf_kv(kv)) << pre;
    EXPECT_EQ(t->pre_name(), pre);
    EXPECT_EQ(t->encode(text, false, false), want) << pre;
  }
}

TEST(PreTokenizers, Gpt2SplitsAsRegexSays) {
  const std::vector<std::unique_ptr<tok::Regex>>& none = {};
  EXPECT_TRUE(tok::regex_split_isolated("", none).empty());
  std::vector<std::unique_ptr<tok::Regex>> res;
  for (const auto& r : tok::llamacpp_pre_type("gpt-2").regexes)
    res.push_back(std::make_unique<tok::Regex>(r));
  const auto pieces = tok::regex_split_isolated("Hello world's   end\n\nx", res);
  const std::vector<std::string_view> want = {"Hello", " world", "'s", "  ",
                                              " end",  "\n",     "\n", "x"};
  EXPECT_EQ(pieces, want);
}

TEST(PreTokenizers, LlamaCppRejectsUnknownName) {
  EXPECT_THROW(tok::llamacpp_pre_type("no-such"), Error);
}

// transformers' non-legacy Llama files: no normalizer, Metaspace(prepend_scheme "first") instead.
// Without added tokens in the text that tokenizes like the Prepend/Replace layout.
TEST(HfMetaspace, MatchesPrependReplaceLayout) {
  auto j = nlohmann::json::parse(read_text(shared_path("models/stories260K/hf/tokenizer.json")));
  const std::string legacy = j.dump();
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Metaspace"},
                        {"replacement", "\xE2\x96\x81"},
                        {"prepend_scheme", "first"},
                        {"split", false}};
  auto meta = load_tokenizer_from_hf_json(j.dump(), "", "metaspace.json");
  auto old = load_tokenizer_from_hf_json(legacy, "", "legacy.json");
  size_t compared = 0;
  for (const auto& c : common_strings()) {
    const std::string t = c["text"].get<std::string>();
    // Metaspace prepends "▁" only when the text does not already start with one (a space).
    if (t.find("<s>") != std::string::npos || t.find("</s>") != std::string::npos ||
        t.find("<unk>") != std::string::npos || t.starts_with(" ") || t.starts_with("\xE2\x96\x81"))
      continue;
    ++compared;
    EXPECT_EQ(meta->encode(t, true, false), old->encode(t, true, false)) << c["idx"];
  }
  EXPECT_GT(compared, 270u);
  EXPECT_EQ(meta->encode(" ", false, false),
            (std::vector<int32_t>{meta->token_id("\xE2\x96\x81")}));
  EXPECT_EQ(old->encode(" ", false, false).size(), 2u);
  // After an added token, "first" does not prepend again (the legacy layout does).
  const auto m = meta->encode("a</s>b", false, false);
  const auto l = old->encode("a</s>b", false, false);
  EXPECT_EQ(m.back(), meta->token_id("b"));
  EXPECT_EQ(l.back(), old->token_id("\xE2\x96\x81"
                                    "b"));
}

}  // namespace
}  // namespace edgefit::test
