// The tokenizers that ship with the test models agree across their file formats on the 308
// common strings: stories260K (tok512.bin, tokenizer.json, GGUF), polyglot (tokenizer.json,
// tokenizer.model, GGUF) and the tiny llama/qwen2/qwen3 models (tokenizer.json vs GGUF).
#include <gtest/gtest.h>

#include <set>

#include "tok_test_util.h"

namespace edgefit::test {
namespace {

struct Mode {
  bool add_special;    // BOS/EOS per config
  bool parse_special;  // llama.cpp side; HF always matches added tokens
  const char* name;    // for messages
};

// Every string, every mode; returns the idx values where `a` and `b` differ.
std::set<int> mismatches(const Tokenizer& a, const Tokenizer& b, const Mode& ma, const Mode& mb,
                         std::string* first = nullptr) {
  std::set<int> bad;
  for (const auto& c : common_strings()) {
    const std::string text = c["text"].get<std::string>();
    const auto x = a.encode(text, ma.add_special, ma.parse_special);
    const auto y = b.encode(text, mb.add_special, mb.parse_special);
    if (x != y) {
      bad.insert(c["idx"].get<int>());
      if (first && first->empty())
        *first =
            "idx " + std::to_string(c["idx"].get<int>()) + ": " + ids_str(x) + " vs " + ids_str(y);
    }
  }
  return bad;
}

void expect_agree(const Tokenizer& a, const Tokenizer& b, const Mode& ma, const Mode& mb,
                  const std::string& what, const std::set<int>& allowed = {}) {
  std::string first;
  const auto bad = mismatches(a, b, ma, mb, &first);
  std::set<int> unexpected;
  for (int i : bad)
    if (!allowed.count(i)) unexpected.insert(i);
  std::string list;
  for (int i : unexpected) list += std::to_string(i) + " ";
  EXPECT_TRUE(unexpected.empty()) << what << " (" << ma.name << " vs " << mb.name
                                  << "): " << unexpected.size() << " strings differ: " << list
                                  << "\n"
                                  << first;
}

const Mode kPlain{false, false, "plain"};
const Mode kParse{false, true, "parse_special"};
const Mode kAdd{true, true, "add_special"};
const Mode kHf{false, false, "hf"};
const Mode kHfAdd{true, false, "hf add_special"};

TEST(ModelTokenizers, Stories260K) {
  const Tokenizer& bin = cached_tokenizer(shared_path("models/stories260K/llama2c/tok512.bin"));
  const Tokenizer& hf = cached_tokenizer(shared_path("models/stories260K/hf/tokenizer.json"));
  const Tokenizer& gguf =
      cached_tokenizer(shared_path("models/stories260K/gguf/stories260K-f32.gguf"));
  EXPECT_EQ(bin.n_vocab(), 512);
  EXPECT_EQ(hf.n_vocab(), 512);
  EXPECT_EQ(gguf.n_vocab(), 512);
  for (int32_t i = 0; i < 512; ++i) {
    EXPECT_EQ(bin.token_piece(i), gguf.token_piece(i)) << i;
    EXPECT_EQ(bin.token_type(i), gguf.token_type(i)) << i;
    EXPECT_EQ(bin.token_score(i), gguf.token_score(i)) << i;
  }
  expect_agree(bin, gguf, kPlain, kPlain, "stories260K tok512.bin vs GGUF");
  expect_agree(bin, gguf, kParse, kParse, "stories260K tok512.bin vs GGUF");
  expect_agree(bin, gguf, kAdd, kAdd, "stories260K tok512.bin vs GGUF");
  expect_agree(hf, gguf, kHf, kParse, "stories260K tokenizer.json vs GGUF");
  expect_agree(hf, gguf, kHfAdd, kAdd, "stories260K tokenizer.json vs GGUF");
}

TEST(ModelTokenizers, Polyglot) {
  const Tokenizer& hf = cached_tokenizer(shared_path("models/polyglot/hf/tokenizer.json"));
  const Tokenizer& spm = cached_tokenizer(shared_path("models/polyglot/hf/tokenizer.model"));
  const Tokenizer& gguf = cached_tokenizer(shared_path("models/polyglot/gguf/polyglot-f32.gguf"));
  ASSERT_EQ(spm.n_vocab(), 8192);
  ASSERT_EQ(gguf.n_vocab(), 8192);
  for (int32_t i = 0; i < 8192; ++i) {
    EXPECT_EQ(spm.token_piece(i), gguf.token_piece(i)) << i;
    EXPECT_EQ(spm.token_type(i), gguf.token_type(i)) << i;
  }
  EXPECT_EQ(spm.bos_id(), 1);
  EXPECT_EQ(spm.eos_id(), 2);
  expect_agree(spm, gguf, kPlain, kPlain, "polyglot tokenizer.model vs GGUF");
  expect_agree(spm, gguf, kAdd, kAdd, "polyglot tokenizer.model vs GGUF");
  expect_agree(hf, gguf, kHf, kParse, "polyglot tokenizer.json vs GGUF");
  expect_agree(hf, gguf, kHfAdd, kAdd, "polyglot tokenizer.json vs GGUF");
}

class TinyModels : public ::testing::TestWithParam<const char*> {};

TEST_P(TinyModels, TokenizerJsonMatchesGguf) {
  const std::string m = GetParam();
  const Tokenizer& hf = cached_tokenizer(shared_path("ref/models/" + m + "/hf/tokenizer.json"));
  const Tokenizer& gguf =
      cached_tokenizer(shared_path("ref/models/" + m + "/gguf/" + m + "-f32.gguf"));
  EXPECT_EQ(hf.n_vocab(), gguf.n_vocab());
  EXPECT_EQ(hf.merges(), gguf.merges());
  EXPECT_EQ(hf.pre_name(), gguf.pre_name());
  // Qwen's tokenizer.json NFC-normalizes; llama.cpp does not (idx 109, 110, 112, 240).
  const std::set<int> nfc = m == "tiny-llama" ? std::set<int>{} : std::set<int>{109, 110, 112, 240};
  expect_agree(hf, gguf, kHf, kParse, m + " tokenizer.json vs GGUF", nfc);
  expect_agree(hf, gguf, kHfAdd, kAdd, m + " tokenizer.json vs GGUF", nfc);
  // The NFC strings really differ (the exception above is not hiding anything else).
  const auto bad = mismatches(hf, gguf, kHf, kParse);
  EXPECT_EQ(bad, nfc);
}

INSTANTIATE_TEST_SUITE_P(Ref, TinyModels,
                         ::testing::Values("tiny-llama", "tiny-qwen2", "tiny-qwen3"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace edgefit::test
