// `edgefit recover` as a user runs it: an adapter GGUF from a quantized stories260K distilled
// towards its f32 model; a run killed midway resumes from its checkpoint and writes the same
// adapter bytes as an uninterrupted one; a time budget stops and resumes; --merged and
// merge-lora write the base with the adapter folded in (same types), and eval --lora /
// --lora-scaled run base + adapter; bad arguments.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "formats/gguf.h"
#include "run_command.h"
#include "test_data.h"

namespace edgefit {
namespace {

const std::string kBase = "models/stories260K/gguf/quantized/stories260K-Q2_K.gguf";
const std::string kTeacher = "models/stories260K/gguf/stories260K-f32.gguf";
const std::string kText = "text/tinystories/TinyStories-valid.head31k.txt";

std::vector<std::string> recover_args(const std::string& out, int steps) {
  return {"recover",
          test::shared_path(kBase),
          "--teacher",
          test::shared_path(kTeacher),
          "--data",
          test::shared_path(kText),
          "--ctx",
          "64",
          "--rank",
          "4",
          "--steps",
          std::to_string(steps),
          "--checkpoint-every",
          "2",
          "-o",
          out};
}

TEST(Recover, WritesALlamaCppAdapter) {
  const std::string out = test::scratch_dir("recover") + "/adapter.gguf";
  auto args = recover_args(out, 4);
  args.insert(args.end(), {"--peft", out + ".peft"});
  const auto r = test::run_edgefit(args);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(out + ".peft/adapter_model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(out + ".peft/adapter_config.json"));
  EXPECT_NE(r.err.find("loss"), std::string::npos) << r.err;  // the progress line
  GgufFile f(out);
  EXPECT_EQ(f.get_string("general.type"), "adapter");
  EXPECT_EQ(f.get_string("adapter.type"), "lora");
  EXPECT_EQ(f.tensors().size(), 2u * 7 * 5);  // 7 projections × 5 layers × (A, B)
  EXPECT_FALSE(std::filesystem::exists(out + ".ckpt.safetensors"));
}

TEST(Recover, KilledRunResumesToTheSameAdapterBytes) {
  const std::string dir = test::scratch_dir("recover-kill");
  const int steps = 40;
  ASSERT_EQ(test::run_edgefit(recover_args(dir + "/straight.gguf", steps)).status, 0);
  const std::string straight = test::slurp(dir + "/straight.gguf");

  const std::string out = dir + "/killed.gguf", ckpt = out + ".ckpt.safetensors";
  const pid_t pid = test::spawn_edgefit(recover_args(out, steps), dir + "/k.out", dir + "/k.err");
  while (!std::filesystem::exists(ckpt)) {
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) FAIL() << "finished before its first checkpoint";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFSIGNALED(st)) << "the run ended before the kill; make it longer";
  ASSERT_FALSE(std::filesystem::exists(out));
  const auto r = test::run_edgefit(recover_args(out, steps));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("resuming at step"), std::string::npos) << r.err;
  EXPECT_EQ(test::slurp(out), straight);
}

TEST(Recover, TimeBudgetStopsAndTheRerunFinishes) {
  const std::string dir = test::scratch_dir("recover-minutes");
  auto args = recover_args(dir + "/a.gguf", 6);
  args.insert(args.end(), {"--minutes", "0.00001"});  // stops after its first step
  const auto first = test::run_edgefit(args);
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_NE(first.out.find("stopped"), std::string::npos) << first.out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/a.gguf.ckpt.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/a.gguf"));
  const auto second = test::run_edgefit(recover_args(dir + "/a.gguf", 6));
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_TRUE(std::filesystem::exists(dir + "/a.gguf"));
  // Another setting refuses the first run's checkpoint rather than mixing the two.
  ASSERT_EQ(test::run_edgefit(args).status, 0);
  const auto other = test::run_edgefit(recover_args(dir + "/a.gguf", 7));
  EXPECT_EQ(other.status, 1);
  EXPECT_NE(other.err.find("other settings"), std::string::npos) << other.err;
}

double eval_ppl(const std::vector<std::string>& extra, const std::string& model) {
  std::vector<std::string> args = {"eval",  model, "--text",       test::shared_path(kText),
                                   "--ctx", "64",  "--max-chunks", "4",
                                   "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto r = test::run_edgefit(args);
  EXPECT_EQ(r.status, 0) << r.err;
  return nlohmann::json::parse(r.out)["ppl"].get<double>();
}

TEST(Recover, MergedExportAndEvalWithTheAdapter) {
  const std::string dir = test::scratch_dir("recover-merged");
  auto args = recover_args(dir + "/a.gguf", 4);
  args.insert(args.end(), {"--lr", "1e-2", "--merged", dir + "/merged.gguf"});
  const auto r = test::run_edgefit(args);
  ASSERT_EQ(r.status, 0) << r.err;
  // The merged file keeps the base's tensors, types and shapes.
  const GgufFile base(test::shared_path(kBase)), merged(dir + "/merged.gguf");
  ASSERT_EQ(base.tensors().size(), merged.tensors().size());
  for (size_t i = 0; i < base.tensors().size(); ++i) {
    EXPECT_EQ(base.tensors()[i].name, merged.tensors()[i].name);
    EXPECT_EQ(base.tensors()[i].type, merged.tensors()[i].type) << base.tensors()[i].name;
    EXPECT_EQ(base.tensors()[i].ne, merged.tensors()[i].ne) << base.tensors()[i].name;
  }
  // merge-lora writes the same bytes as recover --merged.
  const auto m = test::run_edgefit(
      {"merge-lora", test::shared_path(kBase), "--lora", dir + "/a.gguf", "-o", dir + "/m2.gguf"});
  ASSERT_EQ(m.status, 0) << m.err;
  EXPECT_EQ(test::slurp(dir + "/m2.gguf"), test::slurp(dir + "/merged.gguf"));

  const double plain = eval_ppl({}, test::shared_path(kBase));
  const double adapted = eval_ppl({"--lora", dir + "/a.gguf"}, test::shared_path(kBase));
  const double zero = eval_ppl({"--lora-scaled", dir + "/a.gguf", "0"}, test::shared_path(kBase));
  const double folded = eval_ppl({}, dir + "/merged.gguf");
  EXPECT_EQ(zero, plain);     // a zero scale is the base
  EXPECT_NE(adapted, plain);  // the adapter changes the model
  // The merged model is base + adapter up to one more round of Q2_K quantization, which keeps
  // most of what the adapter changed: folded lies nearer the adapted model than the base does.
  // (5 % apart was seen in an ASan -O1 build, whose products train a slightly different adapter;
  // 9.4 % before and 10.5 % after session 13's vectorised exp, which changes the float order of
  // training: at --lr 1e-2 the adapter moves PPL 2.7×, and one more Q2_K rounding of the merged
  // weights moves it about a tenth. The ordering check above is the one that matters.)
  std::printf("PPL base %.3f, base + adapter %.3f, merged %.3f\n", plain, adapted, folded);
  std::fflush(stdout);  // before the next command forks
  EXPECT_LT(std::abs(folded - adapted), std::abs(plain - adapted));
  EXPECT_NEAR(folded, adapted, 0.15 * adapted);

  const auto bad =
      test::run_edgefit({"eval", test::shared_path(kBase), "--text", test::shared_path(kText),
                         "--lora-scaled", dir + "/a.gguf", "x"});
  EXPECT_EQ(bad.status, 2) << bad.err;
  const auto wrong =
      test::run_edgefit({"eval", test::shared_path(kBase), "--text", test::shared_path(kText),
                         "--lora", test::shared_path(kBase)});
  EXPECT_EQ(wrong.status, 1) << wrong.err;
  EXPECT_NE(wrong.err.find("edgefit: error:"), std::string::npos) << wrong.err;
}

TEST(Recover, BadArguments) {
  const std::string out = test::scratch_dir("recover-bad") + "/a.gguf";
  auto args = recover_args(out, 2);
  const auto rank = std::find(args.begin(), args.end(), "--rank");
  ASSERT_NE(rank, args.end());
  *(rank + 1) = "0";
  const auto r = test::run_edgefit(args);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err.rfind("edgefit: usage error:", 0), 0u) << r.err;
  auto bits = recover_args(out, 2);
  bits.insert(bits.end(), {"--optim-bits", "16"});  // 8 or 32
  const auto b = test::run_edgefit(bits);
  EXPECT_EQ(b.status, 2) << b.err;
  EXPECT_EQ(b.err.rfind("edgefit: usage error:", 0), 0u) << b.err;
  auto wrong = recover_args(out, 2);
  wrong[3] = test::shared_path("ref/models/tiny-llama/gguf/tiny-llama-f32.gguf");  // --teacher
  const auto w = test::run_edgefit(wrong);
  EXPECT_EQ(w.status, 1) << w.err;
  EXPECT_EQ(w.err.rfind("edgefit: error:", 0), 0u) << w.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace edgefit
