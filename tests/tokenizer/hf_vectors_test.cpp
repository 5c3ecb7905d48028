// HF tokenizers reference vectors: hf/<name>.vectors.jsonl for gpt2, llama3, mistral-7b-v0.1 and
// qwen3 — ids, ids_with_special and the three decodings, for all 308 strings.
#include <gtest/gtest.h>

#include "tok_test_util.h"

namespace edgefit::test {
namespace {

const char* const kHf[] = {"gpt2", "llama3", "mistral-7b-v0.1", "qwen3"};

class HfVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(HfVectors, AllFieldsMatch) {
  const std::string name = GetParam();
  const Tokenizer& tok = cached_tokenizer(hf_tokenizer_json(name));
  ASSERT_EQ(tok.flavor(), TokenizerFlavor::HuggingFace);
  std::vector<std::string> fails;
  size_t checked = 0;
  const auto check = [&](bool ok, int idx, const std::string& what) {
    ++checked;
    if (!ok) fails.push_back("idx " + std::to_string(idx) + " " + what);
  };
  for (const auto& c : read_jsonl(shared_path("ref/tokenizer/hf/" + name + ".vectors.jsonl"))) {
    const int idx = c["idx"].get<int>();
    const std::string text = c["text"].get<std::string>();
    const auto ids = tok.encode(text, false, false);
    check(ids == json_ids(c["ids"]), idx,
          "ids: got " + ids_str(ids) + " want " + ids_str(json_ids(c["ids"])));
    const auto ids_sp = tok.encode(text, true, false);
    check(ids_sp == json_ids(c["ids_with_special"]), idx,
          "ids_with_special: got " + ids_str(ids_sp));
    const auto ref_ids = json_ids(c["ids"]);
    const auto ref_sp = json_ids(c["ids_with_special"]);
    const std::string d = tok.decode(ref_ids, false);
    check(d == c["decoded"].get<std::string>(), idx, "decoded: got \"" + d + "\"");
    const std::string dw = tok.decode(ref_sp, false);
    check(dw == c["decoded_with_special"].get<std::string>(), idx,
          "decoded_with_special: got \"" + dw + "\"");
    const std::string ds = tok.decode(ref_sp, true);
    check(ds == c["decoded_skip_special"].get<std::string>(), idx,
          "decoded_skip_special: got \"" + ds + "\"");
  }
  EXPECT_EQ(checked, 308u * 5);
  std::string msg = std::to_string(fails.size()) + " of " + std::to_string(checked) + " failed";
  for (size_t i = 0; i < fails.size() && i < 12; ++i) msg += "\n  " + fails[i];
  EXPECT_TRUE(fails.empty()) << name << ": " << msg;
}

INSTANTIATE_TEST_SUITE_P(Hf, HfVectors, ::testing::ValuesIn(kHf), [](const auto& info) {
  std::string n = info.param;
  for (char& c : n)
    if (c == '-' || c == '.') c = '_';
  return n;
});

// The plausibility values of the reference README.
TEST(HfVectors, HelloWorld) {
  EXPECT_EQ(cached_tokenizer(hf_tokenizer_json("qwen3")).encode("Hello world", false, false),
            (std::vector<int32_t>{9707, 1879}));
  EXPECT_EQ(cached_tokenizer(hf_tokenizer_json("llama3")).encode("Hello world", true, false),
            (std::vector<int32_t>{9906, 1917}));
  EXPECT_EQ(cached_tokenizer(hf_tokenizer_json("gpt2")).encode("Hello world", false, false),
            (std::vector<int32_t>{15496, 995}));
  EXPECT_EQ(
      cached_tokenizer(hf_tokenizer_json("mistral-7b-v0.1")).encode("Hello world", true, false),
      (std::vector<int32_t>{1, 22557, 1526}));
}

}  // namespace
}  // namespace edgefit::test
