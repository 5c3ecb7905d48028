// `edgefit recover` as a user runs it: an adapter GGUF from a quantized stories260K distilled
// towards its f32 model; a run killed midway resumes from its checkpoint and writes the same
// adapter bytes as an uninterrupted one; a time budget stops and resumes; bad arguments.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
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

TEST(Recover, BadArguments) {
  const std::string out = test::scratch_dir("recover-bad") + "/a.gguf";
  auto args = recover_args(out, 2);
  const auto rank = std::find(args.begin(), args.end(), "--rank");
  ASSERT_NE(rank, args.end());
  *(rank + 1) = "0";
  const auto r = test::run_edgefit(args);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err.rfind("edgefit: usage error:", 0), 0u) << r.err;
  auto wrong = recover_args(out, 2);
  wrong[3] = test::shared_path("ref/models/tiny-llama/gguf/tiny-llama-f32.gguf");  // --teacher
  const auto w = test::run_edgefit(wrong);
  EXPECT_EQ(w.status, 1) << w.err;
  EXPECT_EQ(w.err.rfind("edgefit: error:", 0), 0u) << w.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace edgefit
