// The calibration methods' own flags (--act-order, --sq-alpha) reach their methods although the
// CLI registers them from the method registry alone: the settings land in the output's metadata.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "run_command.h"
#include "test_data.h"

namespace edgefit {
namespace {

// A tiny calibrated run on the polyglot model: 2 sequences of 32 tokens of one language.
std::vector<std::string> small_run(const std::string& out, const std::string& type,
                                   const std::string& method) {
  return {"quantize",
          test::shared_path("models/polyglot/hf"),
          out,
          "--type",
          type,
          "--method",
          method,
          "--calib",
          test::shared_path("text/ntrex128/calib/eng-US.txt"),
          "--samples",
          "2",
          "--seqlen",
          "32",
          "-q"};
}

TEST(QuantizeMethodFlags, SqAlphaAndActOrderReachTheirMethods) {
  const std::string dir = test::scratch_dir("quantize-method-flags");
  std::vector<std::string> sq = small_run(dir + "/sq.gguf", "q8_0", "smoothquant");
  sq.insert(sq.end(), {"--sq-alpha", "0.7"});
  const auto r1 = test::run_edgefit(sq);
  ASSERT_EQ(r1.status, 0) << r1.err;
  EXPECT_FLOAT_EQ(
      static_cast<float>(GgufFile(dir + "/sq.gguf").get_double("edgefit.smoothquant.alpha")), 0.7f);

  std::vector<std::string> gptq = small_run(dir + "/gptq.gguf", "q4_0", "gptq");
  const auto r2 = test::run_edgefit(gptq);
  ASSERT_EQ(r2.status, 0) << r2.err;
  EXPECT_EQ(GgufFile(dir + "/gptq.gguf").get("edgefit.gptq.act_order").u, 0u);
  gptq.push_back("--act-order");
  const auto r3 = test::run_edgefit(gptq);
  ASSERT_EQ(r3.status, 0) << r3.err;
  EXPECT_EQ(GgufFile(dir + "/gptq.gguf").get("edgefit.gptq.act_order").u, 1u);
}

TEST(QuantizeMethodFlags, AMalformedValueIsAUsageError) {
  const std::string dir = test::scratch_dir("quantize-method-flags-bad");
  std::vector<std::string> sq = small_run(dir + "/sq.gguf", "q8_0", "smoothquant");
  sq.insert(sq.end(), {"--sq-alpha", "strong"});
  const auto r = test::run_edgefit(sq);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err.rfind("edgefit: usage error:", 0), 0u) << r.err;
}

}  // namespace
}  // namespace edgefit
