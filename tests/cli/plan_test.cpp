// `edgefit plan` and `--recipe`: a planned recipe quantizes to the same bytes as the preset named
// with --type; without --preset, plan picks the preset with the most bits that fits the device;
// a bad recipe gets one "edgefit: error:" line naming the file and field, exit 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/run_command.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

const std::string kModel = "models/polyglot/hf";

TEST(PlanCommand, RecipeQuantizesToTheSameBytesAsType) {
  const std::string dir = test::scratch_dir("plan-same-bytes");
  const auto plan =
      test::run_edgefit({"plan", test::shared_path(kModel), "--device", "raspberry-pi-5",
                         "--preset", "q3_k_m", "-o", dir + "/r.json"});
  ASSERT_EQ(plan.status, 0) << plan.err;
  const auto j = nlohmann::json::parse(slurp(dir + "/r.json"));
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["base"], "q3_k_m");
  EXPECT_EQ(j["device"], "raspberry-pi-5");
  const auto a = test::run_edgefit({"quantize", test::shared_path(kModel), dir + "/recipe.gguf",
                                    "--recipe", dir + "/r.json", "-q"});
  ASSERT_EQ(a.status, 0) << a.err;
  const auto b = test::run_edgefit(
      {"quantize", test::shared_path(kModel), dir + "/type.gguf", "--type", "q3_k_m", "-q"});
  ASSERT_EQ(b.status, 0) << b.err;
  const std::string bytes = slurp(dir + "/recipe.gguf");
  EXPECT_GT(bytes.size(), 1000000u);
  EXPECT_TRUE(bytes == slurp(dir + "/type.gguf"));
}

TEST(PlanCommand, ChoosesTheMostBitsThatFit) {
  const std::string dir = test::scratch_dir("plan-choose");
  // A device whose storage (5.4 MiB) holds the q3_k_m file (about 5.1 MiB) but not q4_0's
  // (about 5.7 MiB): the ladder's q2_k and q3_k_m fit, q3_k_m has more bits.
  write_text(dir + "/tiny.json", R"({"id": "tiny", "name": "tiny", "ram_bytes": 4000000000,
    "storage_bytes": 5662310, "bandwidth_gbs": 1, "cores": 1})");
  const auto r = test::run_edgefit(
      {"plan", test::shared_path(kModel), "--device", dir + "/tiny.json", "-o", dir + "/r.json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(slurp(dir + "/r.json"));
  EXPECT_EQ(j["base"], "q3_k_m") << r.err;
}

TEST(PlanCommand, BadRecipesNameTheField) {
  const std::string dir = test::scratch_dir("plan-bad");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"schema_version": 1, "base": "q4_k_m", "rules": [{"match": "a"}, {"match": "b"},
          {"match": "c", "format": "q9_k"}]})",
       "rules[2].format: unknown format 'q9_k'"},
      {R"({"schema_version": 1, "base": "q4_k_m", "rules": [{"mach": "ffn"}]})",
       "rules[0].mach: unknown field 'mach'"},
      {R"({"schema_version": 1, "base": "q4_k_m", "method": {"name": "magic"}})",
       "method.name: unknown method 'magic'"},
      {R"({"schema_version": 1, "base": "q4_k_m", "rules": [{"match": "(ffn"}]})",
       "rules[0].match: invalid regex '(ffn'"},
      {R"({"schema_version": 1, "base": "q4_k_m", "rules": [{"match": "ffn", "layers": [0, 6]}]})",
       "rules[0].layers: layer 6 is beyond the model's 6 layers"},
      {R"({"schema_version": 1, "base": "q4_k_m", "method": {"name": "gptq",
          "params": {"dampening": 0.1}}})",
       "method.params.dampening: unknown parameter for gptq"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].second);
    const std::string path = dir + "/bad" + std::to_string(i) + ".json";
    write_text(path, cases[i].first);
    const auto r =
        test::run_edgefit({"quantize", test::shared_path(kModel), dir + "/out.gguf", "--recipe",
                           path, "--calib", test::shared_path("text/ntrex128/calib/deu.txt")});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err.rfind("edgefit: error: " + path + ": " + cases[i].second, 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(dir + "/out.gguf"));
  }
}

}  // namespace
}  // namespace edgefit
