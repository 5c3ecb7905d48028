// What a new user types first, on every model in ../shared: `edgefit imatrix MODEL --calib F -o O`
// and `edgefit eval MODEL --text F` with no --ctx. The window must default to min(512, the
// model's trained context) (polyglot and the ref models were trained on 256 tokens), and an
// explicit longer window must run with a warning, as llama-perplexity does.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;

// Every model folder and file in ../shared with its trained context.
struct SharedModel {
  std::string path;     // relative to ../shared
  int trained_context;  // max_position_embeddings / llama.context_length / llama2c seq_len
};

std::vector<SharedModel> shared_models() {
  std::vector<SharedModel> m = {
      {"models/stories260K/llama2c/stories260K.bin", 512},
      {"models/stories260K/hf", 512},
      {"models/stories260K/gguf/stories260K-f32.gguf", 512},
      {"models/stories260K/gguf/stories260K-f16.gguf", 512},
      {"models/polyglot/hf", 256},
      {"models/polyglot/gguf/polyglot-f32.gguf", 256},
      {"models/polyglot/gguf/polyglot-f16.gguf", 256},
      {"ref/polyglot/polyglot-q4_0.llamacpp.gguf", 256},
      {"ref/polyglot/polyglot-q4_k_m-imatrix.llamacpp.gguf", 256},
  };
  for (const auto& e :
       fs::directory_iterator(test::shared_path("models/stories260K/gguf/quantized")))
    m.push_back({"models/stories260K/gguf/quantized/" + e.path().filename().string(), 512});
  for (const char* name : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
    m.push_back({std::string("ref/models/") + name + "/hf", 256});
    for (const auto& e :
         fs::directory_iterator(test::shared_path(std::string("ref/models/") + name + "/gguf")))
      m.push_back(
          {std::string("ref/models/") + name + "/gguf/" + e.path().filename().string(), 256});
  }
  return m;
}

// A short English text (a few windows for every tokenizer here), so each run takes well under a
// second on these small models.
std::string short_text(const std::string& dir) {
  std::ifstream in(test::shared_path("text/tinystories/TinyStories-valid.head31k.txt"));
  std::string text(6000, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  const std::string path = dir + "/short.txt";
  std::ofstream(path) << text;
  return path;
}

TEST(ContextDefaults, EvalAndImatrixRunWithDefaultsOnEverySharedModel) {
  const std::string dir = test::scratch_dir("context-defaults");
  const std::string text = short_text(dir);
  const auto models = shared_models();
  ASSERT_GE(models.size(), 20u);
  for (const auto& [rel, trained] : models) {
    SCOPED_TRACE(rel);
    const std::string model = test::shared_path(rel);
    const auto ev = test::run_edgefit({"eval", model, "--text", text, "--json"});
    ASSERT_EQ(ev.status, 0) << ev.err;
    EXPECT_EQ(nlohmann::json::parse(ev.out)["ctx"], std::min(512, trained));
    EXPECT_EQ(ev.err.find("warning"), std::string::npos) << ev.err;  // the default fits: no warning

    const std::string out = dir + "/imatrix.gguf";
    const auto im = test::run_edgefit({"imatrix", model, "--calib", text, "-o", out});
    ASSERT_EQ(im.status, 0) << im.err;
    EXPECT_NE(im.out.find("chunks of " + std::to_string(std::min(512, trained)) + " tokens"),
              std::string::npos)
        << im.out;
    EXPECT_EQ(im.err.find("warning"), std::string::npos) << im.err;
    fs::remove(out);
  }
}

TEST(ContextDefaults, AWindowBeyondTheTrainedContextWarnsAndRuns) {
  const std::string dir = test::scratch_dir("context-beyond");
  const std::string text = short_text(dir);
  const std::string model = test::shared_path("models/polyglot/hf");
  const auto ev = test::run_edgefit({"eval", model, "--text", text, "--ctx", "512", "--json"});
  ASSERT_EQ(ev.status, 0) << ev.err;
  EXPECT_EQ(nlohmann::json::parse(ev.out)["ctx"], 512);
  EXPECT_NE(
      ev.err.find("edgefit: warning: --ctx 512 exceeds the model's trained context of 256 tokens"),
      std::string::npos)
      << ev.err;

  const auto im = test::run_edgefit(
      {"imatrix", model, "--calib", text, "--ctx", "512", "-o", dir + "/im.gguf"});
  ASSERT_EQ(im.status, 0) << im.err;
  EXPECT_NE(
      im.err.find("edgefit: warning: --ctx 512 exceeds the model's trained context of 256 tokens"),
      std::string::npos)
      << im.err;
  EXPECT_TRUE(fs::exists(dir + "/im.gguf"));

  const auto bad =
      test::run_edgefit({"imatrix", model, "--calib", text, "--ctx", "1", "-o", dir + "/bad.gguf"});
  EXPECT_EQ(bad.status, 2) << bad.err;
  EXPECT_NE(bad.err.find("edgefit: usage error: --ctx must be at least 2"), std::string::npos)
      << bad.err;
}

}  // namespace
}  // namespace edgefit
