// decode(encode(s)) == s on every NTREX-128 sentence (calib + eval, 12 languages) for every
// tokenizer that is lossless by design: byte-level BPE (HF, and llama.cpp vocabularies without the
// clean-up of spaces) and byte-fallback SentencePiece (the dummy-prefix space is removed again by
// decode). Qwen3's tokenizer.json NFC-normalizes, so there s is compared in NFC.
#include <gtest/gtest.h>

#include <filesystem>

#include "tok_test_util.h"
#include "tokenizer/hf_components.h"

namespace edgefit::test {
namespace {

const std::vector<std::string>& ntrex_lines() {
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> out;
    namespace fs = std::filesystem;
    for (const char* part : {"calib", "eval"}) {
      std::vector<fs::path> files;
      for (const auto& e :
           fs::directory_iterator(shared_path(std::string("text/ntrex128/") + part)))
        if (e.path().extension() == ".txt") files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        std::istringstream ss(read_text(f.string()));
        for (std::string l; std::getline(ss, l);) {
          if (!l.empty() && l.back() == '\r') l.pop_back();
          if (!l.empty()) out.push_back(l);
        }
      }
    }
    return out;
  }();
  return lines;
}

struct Case {
  const char* name;       // test name
  std::string (*path)();  // tokenizer location
  bool nfc;               // compare against NFC(s)
};

std::string p_llama_spm() {
  return vocab_gguf("llama-spm");
}
std::string p_qwen2() {
  return vocab_gguf("qwen2");
}
std::string p_deepseek_coder() {
  return vocab_gguf("deepseek-coder");
}
std::string p_gpt2_hf() {
  return hf_tokenizer_json("gpt2");
}
std::string p_llama3_hf() {
  return hf_tokenizer_json("llama3");
}
std::string p_qwen3_hf() {
  return hf_tokenizer_json("qwen3");
}
std::string p_mistral_hf() {
  return hf_tokenizer_json("mistral-7b-v0.1");
}
std::string p_polyglot_gguf() {
  return shared_path("models/polyglot/gguf/polyglot-f32.gguf");
}
std::string p_polyglot_model() {
  return shared_path("models/polyglot/hf/tokenizer.model");
}
std::string p_polyglot_hf() {
  return shared_path("models/polyglot/hf/tokenizer.json");
}
std::string p_stories_bin() {
  return shared_path("models/stories260K/llama2c/tok512.bin");
}
std::string p_stories_hf() {
  return shared_path("models/stories260K/hf/tokenizer.json");
}
std::string p_stories_gguf() {
  return shared_path("models/stories260K/gguf/stories260K-f32.gguf");
}

const Case kCases[] = {
    {"llama_spm_gguf", p_llama_spm, false},
    {"qwen2_gguf", p_qwen2, false},
    {"deepseek_coder_gguf", p_deepseek_coder, false},
    {"gpt2_hf", p_gpt2_hf, false},
    {"llama3_hf", p_llama3_hf, false},
    {"qwen3_hf", p_qwen3_hf, true},
    {"mistral_hf", p_mistral_hf, false},
    {"polyglot_gguf", p_polyglot_gguf, false},
    {"polyglot_model", p_polyglot_model, false},
    {"polyglot_hf", p_polyglot_hf, false},
    {"stories_bin", p_stories_bin, false},
    {"stories_hf", p_stories_hf, false},
    {"stories_gguf", p_stories_gguf, false},
};

// Names the case in ctest's test list instead of dumping its bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class RoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(RoundTrip, NtrexIsLossless) {
  const Case& c = GetParam();
  const Tokenizer& tok = cached_tokenizer(c.path());
  const auto& lines = ntrex_lines();
  ASSERT_GT(lines.size(), 20000u);
  size_t bad = 0;
  std::string first;
  for (const auto& s : lines) {
    const std::string want = c.nfc ? tok::unicode_normalize(s, "NFC") : s;
    const std::string got = tok.decode(tok.encode(s, false, false));
    if (got != want) {
      if (first.empty()) first = "\"" + s + "\" -> \"" + got + "\"";
      ++bad;
    }
  }
  EXPECT_EQ(bad, 0u) << c.name << ": " << bad << " of " << lines.size() << " lines differ; first "
                     << first;
}

INSTANTIATE_TEST_SUITE_P(Ntrex, RoundTrip, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace edgefit::test
