// `edgefit compress` up to its plan, on a Llama-2-7B-shaped header (sparse, so these run in
// milliseconds): the default context fits the model, a refusal explains which constraint failed
// (RAM, speed target, target size) in the error line and in report.json/html, and the new
// options reject bad values as usage errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../cli/run_command.h"
#include "core/atomic_file.h"
#include "sparse_7b.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;

struct SevenB {
  std::string dir;    // scratch folder
  std::string model;  // the sparse 7B GGUF
};

SevenB seven_b(const std::string& name) {
  SevenB s{test::scratch_dir(name), ""};
  s.model = s.dir + "/llama-2-7b-f16.gguf";
  test::write_sparse_7b(s.model);
  return s;
}

std::vector<std::string> compress_7b(const SevenB& s, const std::string& device,
                                     std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {
      "compress", s.model,
      "--device", device,
      "-o",       s.dir + "/out",
      "--text",   test::shared_path("text/tinystories/TinyStories-valid.head31k.txt")};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// The error is the one last line, and report.json says the same.
std::string refusal_of(const test::CommandResult& r, const std::string& out_dir) {
  EXPECT_EQ(r.status, 1) << r.err;
  const size_t at = r.err.find("edgefit: error: ");
  EXPECT_NE(at, std::string::npos) << r.err;
  if (at == std::string::npos) return "";
  EXPECT_EQ(r.err.find('\n', at), r.err.size() - 1) << r.err;
  const std::string line = r.err.substr(at + 16, r.err.size() - at - 17);
  const auto j = nlohmann::json::parse(read_file(out_dir + "/report.json"));
  EXPECT_TRUE(j["chosen"].is_null());
  EXPECT_EQ(j["decision"]["reason"], line);
  EXPECT_NE(read_file(out_dir + "/report.html").find(line.substr(0, 40)), std::string::npos);
  return line;
}

TEST(CompressPlan, SevenBillionOnTheControllerIsRefusedWithTheReason) {
  // The must-show case: a 7B-shaped model on a 4 GB industrial controller (3 GiB budget, 4 GB/s).
  const SevenB s = seven_b("plan-7b-controller");
  const auto r = test::run_edgefit(compress_7b(s, "controller-8gb-flash"));
  const std::string why = refusal_of(r, s.dir + "/out");
  // The default context is min(512, 4096): the RAM figures assume 512 tokens, not 2048.
  EXPECT_NE(why.find("at context 512"), std::string::npos) << why;
  EXPECT_EQ(why.rfind("no preset", 0), 0u) << why;
  const auto j = nlohmann::json::parse(read_file(s.dir + "/out/report.json"));
  EXPECT_EQ(j["context"], 512);
  // q2_k is ~2.6 GiB: either it does not fit the RAM budget, or it is far below reading speed.
  const bool ram =
      why.find("no preset fits controller-8gb-flash (3.00 GiB RAM, 6.00 GiB storage)") !=
      std::string::npos;
  const bool speed =
      why.find("no preset that fits controller-8gb-flash reaches 10 tokens/s") != std::string::npos;
  EXPECT_TRUE(ram || speed) << why;
  if (speed) {
    EXPECT_NE(why.find("the fastest, q2_k, is predicted at 1."), std::string::npos) << why;
  }
}

TEST(CompressPlan, SevenBillionOnThePiMissesTheSpeedTargetAndSaysWhatWouldPass) {
  const SevenB s = seven_b("plan-7b-pi");
  const auto r = test::run_edgefit(compress_7b(s, "raspberry-pi-5"));
  const std::string why = refusal_of(r, s.dir + "/out");
  EXPECT_NE(why.find("no preset that fits raspberry-pi-5 reaches 10 tokens/s at context 512: the "
                     "fastest, q2_k, is "
                     "predicted at 3.0 tokens/s (10 GB/s over 2.44 GiB read per token)"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("; pass --min-tps 3 to accept it"), std::string::npos) << why;
  // The plan lines say why each preset is out.
  EXPECT_NE(r.err.find("ruled out: predicted"), std::string::npos) << r.err;
}

TEST(CompressPlan, TargetSizeRefusalNamesTheSmallest) {
  const SevenB s = seven_b("plan-7b-size");
  const auto r = test::run_edgefit(
      compress_7b(s, "snapdragon-8-gen-3", {"--target-size", "1GB", "--min-tps", "0"}));
  const std::string why = refusal_of(r, s.dir + "/out");
  EXPECT_NE(why.find("no preset that fits snapdragon-8-gen-3 is within --target-size 953.7 MiB: "
                     "the smallest is q2_k"),
            std::string::npos)
      << why;
}

TEST(CompressPlan, ContextBeyondTheTrainedOneWarns) {
  const SevenB s = seven_b("plan-7b-ctx");
  const auto r = test::run_edgefit(compress_7b(s, "controller-8gb-flash", {"--context", "8192"}));
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(
      r.err.find(
          "edgefit: warning: --context 8192 exceeds the model's trained context of 4096 tokens"),
      std::string::npos)
      << r.err;
}

TEST(CompressPlan, BadObjectiveTargetSizeOrMethodIsAUsageError) {
  const SevenB s = seven_b("plan-7b-usage");
  for (const auto& [flag, value, message] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"--objective", "smallest",
            "--objective must be quality, size or speed, got 'smallest'"},
           {"--target-size", "4XB", "--target-size expects a size like 4GB"},
           {"--target-size", "0GB", "--target-size expects a size like 4GB"},
           {"--methods", "awq", "--methods takes rtn, imatrix and gptq, got 'awq'"},
           {"--methods", "gptq", "--methods gptq needs calibration text"},
           {"--min-tps", "-3", "--min-tps must not be negative"}}) {
    const auto r = test::run_edgefit(compress_7b(s, "raspberry-pi-5", {flag, value}));
    EXPECT_EQ(r.status, 2) << flag << " " << value << "\n" << r.err;
    EXPECT_NE(r.err.find("edgefit: usage error: " + message), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace edgefit
