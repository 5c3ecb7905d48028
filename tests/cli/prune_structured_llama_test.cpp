// Slow: a structurally pruned polyglot loads in llama.cpp and its perplexity there equals
// edgefit's within 0.5 % on every eval language (heads=0.25,ffn=0.25 as `llama`, ffn_global as
// `deci`, and a dropped layer). Runs only when EDGEFIT_LLAMA_PERPLEXITY names a llama-perplexity
// binary (b4748); skips with a message otherwise.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "run_command.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;

// llama-perplexity's final estimate, or NaN when it failed to load or run.
double llama_ppl(const std::string& bin, const std::string& model, const std::string& text) {
  const std::string cmd =
      "'" + bin + "' -m '" + model + "' -f '" + text + "' -c 256 -t 1 -b 256 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return NAN;
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  std::smatch m;
  static const std::regex final_estimate(R"(Final estimate: PPL = ([0-9.]+))");
  if (!std::regex_search(out, m, final_estimate)) {
    ADD_FAILURE() << "llama-perplexity gave no estimate for " << model << ":\n"
                  << out.substr(out.size() > 2000 ? out.size() - 2000 : 0);
    return NAN;
  }
  return std::stod(m[1]);
}

TEST(PruneStructuredLlama, PerplexityMatchesLlamaCppPerLanguage) {
  const char* bin = std::getenv("EDGEFIT_LLAMA_PERPLEXITY");
  if (!bin || !*bin || !fs::exists(bin))
    GTEST_SKIP() << "EDGEFIT_LLAMA_PERPLEXITY does not name a llama-perplexity binary (b4748); "
                    "set it to run this comparison";
  const std::string dir = test::scratch_dir("prune-structured-llama");
  const std::string model = test::shared_path("models/polyglot/gguf/polyglot-f32.gguf");
  const std::string eval_dir = test::shared_path("text/ntrex128/eval");
  for (const std::string spec : {"heads=0.25,ffn=0.25", "ffn_global=0.25", "layers=1"}) {
    SCOPED_TRACE(spec);
    const std::string out = dir + "/pruned.gguf";
    const auto r = test::run_edgefit({"prune", model, out, "--structured", spec, "--calib",
                                      test::shared_path("text/ntrex128/calib")});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto e =
        test::run_edgefit({"eval", out, "--lang-dir", eval_dir, "--ctx", "256", "--json"});
    ASSERT_EQ(e.status, 0) << e.err;
    const auto j = nlohmann::json::parse(e.out);
    for (const auto& [lang, row] : j["languages"].items()) {
      const double ours = row["ppl"].get<double>();
      const double theirs = llama_ppl(bin, out, eval_dir + "/" + lang + ".txt");
      EXPECT_LT(std::fabs(ours / theirs - 1), 0.005)
          << lang << ": edgefit " << ours << ", llama.cpp " << theirs;
    }
  }
}

}  // namespace
}  // namespace edgefit
