// `edgefit bench` as a user runs it: the JSON fields the issue names, consistent with each other,
// and a clear error for bad arguments. (Speed itself is measured, not tested: see bench/.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_command.h"
#include "test_data.h"

namespace edgefit {
namespace {

TEST(Bench, JsonReportsSpeedMemoryAndRoofline) {
  const std::string model = test::shared_path("ref/polyglot/polyglot-q4_0.llamacpp.gguf");
  const auto r =
      test::run_edgefit({"bench", model, "-p", "20", "-n", "8", "-t", "1,2", "-r", "3", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* k :
       {"pp_tps", "tg_tps", "peak_rss_bytes", "read_bw_gbs", "tg_roofline_fraction"})
    ASSERT_TRUE(j.contains(k)) << k;
  ASSERT_EQ(j["runs"].size(), 2u) << "one entry per thread count";
  EXPECT_GT(j["repacked_tensors"].get<int>(), 0) << "polyglot's ffn_down rows repack on every ISA";
  // Placement moves matmul weights only (never the embedding table), each once; huge pages
  // cover at most the arena's whole 2 MiB pages (weights plus ≤ 63 bytes of alignment each).
  const double placed = j["placed_bytes"].get<double>();
  EXPECT_GT(placed, 0);
  EXPECT_LE(placed, j["weight_bytes"].get<double>());
  const int moved = j["repacked_tensors"].get<int>() + j["copied_tensors"].get<int>();
  EXPECT_LE(j["huge_page_bytes"].get<double>(), placed + 63.0 * moved);
  for (const auto& run : j["runs"]) {
    EXPECT_GT(run["pp_tps"].get<double>(), 0);
    EXPECT_LE(run["tg_tps_min"].get<double>(), run["tg_tps"].get<double>());
    EXPECT_GE(run["tg_tps_max"].get<double>(), run["tg_tps"].get<double>());
    // The fraction is per run against the bandwidth probed around it, so it lies between the
    // extremes of tokens/s over the extremes of the probed roofline.
    const double bytes = j["bytes_per_token"].get<double>();
    const double lo =
        run["tg_tps_min"].get<double>() / (run["read_bw_gbs_max"].get<double>() * 1e9 / bytes);
    const double hi =
        run["tg_tps_max"].get<double>() / (run["read_bw_gbs_min"].get<double>() * 1e9 / bytes);
    const double f = run["tg_roofline_fraction"].get<double>();
    EXPECT_GE(f, lo * 0.999);
    EXPECT_LE(f, hi * 1.001);
    EXPECT_GT(run["read_bw_gbs"].get<double>(), 0.1);
    // Peak RSS holds at least the weights the run touched (mapped or repacked copies).
    EXPECT_GT(run["peak_rss_bytes"].get<double>(), 0.5 * j["weight_bytes"].get<double>());
  }
  EXPECT_EQ(j["tg_tps"], j["runs"].back()["tg_tps"])
      << "headline numbers are the last thread count";
}

TEST(Bench, BadArgumentsGiveOneLineAndNonZeroExit) {
  const std::string model = test::shared_path("ref/polyglot/polyglot-q4_0.llamacpp.gguf");
  const auto r = test::run_edgefit({"bench", model, "-t", "0", "-r", "1"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("thread counts must be positive"), std::string::npos) << r.err;
  const auto missing = test::run_edgefit({"bench", "/nonexistent/model.gguf"});
  EXPECT_NE(missing.status, 0);
  EXPECT_FALSE(missing.err.empty());
}

}  // namespace
}  // namespace edgefit
