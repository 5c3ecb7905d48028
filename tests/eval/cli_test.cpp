// `edgefit eval` and `edgefit generate` end to end: JSON fields, one-line errors with the right
// exit status, and greedy generation equal to llama2.c's reference output.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "core/atomic_file.h"
#include "test_data.h"

namespace edgefit {
namespace {

using test::shared_path;

struct CliRun {
  int status = -1;  // exit status
  std::string out;  // stdout
  std::string err;  // stderr
};

CliRun run_cli(const std::string& args) {
  const std::string dir = test::scratch_dir("eval-cli-run");
  const std::string cmd =
      std::string(EDGEFIT_BINARY_DIR) + "/edgefit " + args + " 2>" + dir + "/err";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.err = read_file(dir + "/err");
  return r;
}

std::string q(const std::string& s) {
  return "'" + s + "'";
}

const std::string kText = shared_path("ref/logits/perplexity/TinyStories-valid.head31k.txt");
const std::string kF32 = shared_path("models/stories260K/gguf/stories260K-f32.gguf");
const std::string kF16 = shared_path("models/stories260K/gguf/stories260K-f16.gguf");

// Errors are one line: "edgefit: error: …" (progress lines are not printed before them).
void expect_one_line_error(const CliRun& r, int status) {
  EXPECT_EQ(r.status, status) << r.err;
  ASSERT_FALSE(r.err.empty());
  const size_t start = r.err.rfind("edgefit: ");
  ASSERT_NE(start, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n', start), r.err.size() - 1) << r.err;
}

TEST(EvalCli, JsonWithBase) {
  const CliRun r = run_cli("eval " + q(kF16) + " --text " + q(kText) + " --ctx 128 --base " +
                           q(kF32) + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["ppl"].get<double>(), 5.7261, 0.0057);
  EXPECT_GT(j["ppl_stderr"].get<double>(), 0.1);
  EXPECT_EQ(j["n_tokens"].get<int>(), 121 * 63);
  for (const char* k : {"kld_mean", "kld_median", "kld_p99", "top1_agreement", "mean_abs_dp"})
    EXPECT_TRUE(j.contains(k) && j[k].is_number()) << k;
  EXPECT_GT(j["top1_agreement"].get<double>(), 0.95);
}

TEST(EvalCli, LanguageDirectoryJsonAndTable) {
  const std::string dir = test::scratch_dir("eval-cli-langs");
  const std::string text = read_file(kText);
  write_file_atomic(dir + "/aaa.txt", text.substr(0, 8000));
  write_file_atomic(dir + "/bbb.txt", text.substr(8000, 12000));
  const CliRun r = run_cli("eval " + q(kF16) + " --lang-dir " + q(dir) + " --ctx 128 --base " +
                           q(kF32) + " --max-chunks 3 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("languages"));
  for (const char* lang : {"aaa", "bbb"}) {
    ASSERT_TRUE(j["languages"].contains(lang));
    for (const char* k : {"ppl", "ppl_stderr", "n_tokens", "kld_mean", "top1_agreement"})
      EXPECT_TRUE(j["languages"][lang].contains(k)) << lang << " " << k;
  }
  const std::string worst = j["worst_language"].get<std::string>();
  EXPECT_TRUE(worst == "aaa" || worst == "bbb");
  const CliRun t =
      run_cli("eval " + q(kF32) + " --lang-dir " + q(dir) + " --ctx 128 --max-chunks 2");
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_NE(t.out.find("aaa"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("worst language"), std::string::npos) << t.out;
}

TEST(EvalCli, BadInputIsOneLineError) {
  const std::string dir = test::scratch_dir("eval-cli-bad");
  write_file_atomic(dir + "/empty.txt", "");
  write_file_atomic(dir + "/short.txt", "Once upon a time.");
  expect_one_line_error(
      run_cli("eval " + q(kF32) + " --text " + q(dir + "/empty.txt") + " --ctx 128"), 1);
  expect_one_line_error(
      run_cli("eval " + q(kF32) + " --text " + q(dir + "/short.txt") + " --ctx 128"), 1);
  expect_one_line_error(run_cli("eval " + q(kF32) + " --text " + q(kText) + " --ctx 128 --base " +
                                q(shared_path("models/polyglot/gguf/polyglot-f32.gguf"))),
                        1);
  expect_one_line_error(run_cli("eval " + q(kF32) + " --ctx 128"),
                        2);  // neither --text nor --lang-dir
}

TEST(GenerateCli, GreedyMatchesLlama2c) {
  const std::string ref = read_file(shared_path("ref/generation/stories260K_greedy_256.txt"));
  // run.c: 256 steps from BOS (every step samples one token), then a newline.
  for (const std::string& model :
       {shared_path("models/stories260K/llama2c/stories260K.bin"), kF32}) {
    const CliRun r = run_cli("generate " + q(model) + " --prompt '' --temp 0 --n 256");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, ref) << model;
  }
}

TEST(GenerateCli, SamplingIsSeeded) {
  const std::string args =
      "generate " + q(kF32) + " --prompt 'Once upon a time' --n 40 --temp 0.8 --seed 5";
  const CliRun a = run_cli(args), b = run_cli(args);
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.out.rfind("Once upon a time", 0), 0u) << a.out;
}

}  // namespace
}  // namespace edgefit
