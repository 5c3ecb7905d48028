#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "formats/gguf.h"
#include "formats/model.h"
#include "plan/cost_model.h"
#include "plan/device_profile.h"
#include "test_data.h"

namespace edgefit {
namespace {

TEST(DeviceProfiles, EveryRequiredProfileShipsWithSourceNotes) {
  const auto devices = list_devices();
  std::set<std::string> ids;
  for (const auto& d : devices) {
    ids.insert(d.id);
    if (d.measured) continue;
    EXPECT_GT(d.ram_bytes, 0u) << d.id;
    EXPECT_GT(d.bandwidth_gbs, 0) << d.id;
    std::set<std::string> noted;
    for (const auto& [k, v] : d.notes) noted.insert(k);
    for (const char* k : {"ram", "storage", "bandwidth", "isa", "cores"})
      EXPECT_TRUE(noted.count(k)) << d.id << " " << k;
  }
  for (const char* id : {"snapdragon-8-gen-3", "jetson-orin-nano", "raspberry-pi-5",
                         "armv8.2-dotprod", "x86-avx2-laptop", "controller-8gb-flash", "host"})
    EXPECT_TRUE(ids.count(id)) << id;
  const DeviceProfile ctl = load_device("controller-8gb-flash");
  EXPECT_FALSE(ctl.isa.dotprod);  // Cortex-A53
  EXPECT_LE(ctl.ram_bytes, 4ull << 30);
}

TEST(DeviceProfiles, HostIsMeasured) {
  const DeviceProfile h = load_device("host");
  EXPECT_TRUE(h.measured);
  EXPECT_GT(h.ram_bytes, 256u << 20);
  EXPECT_GT(h.bandwidth_gbs, 0.5);
  EXPECT_GE(h.cores, 1);
#if defined(__x86_64__)
  EXPECT_EQ(h.isa.avx2, static_cast<bool>(__builtin_cpu_supports("avx2")));
#endif
}

TEST(DeviceProfiles, UnknownOrMalformedIsAClearError) {
  try {
    load_device("toaster");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown device 'toaster' (known: armv8.2-dotprod"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(parse_device(R"({"id":"x","name":"y","ram_bytes":"lots"})", "x.json"), Error);
  EXPECT_THROW(
      parse_device(
          R"({"id":"x","name":"y","ram_bytes":0,"storage_bytes":1,"bandwidth_gbs":1,"cores":1})",
          "x.json"),
      Error);
}

// Every number of a profile is checked for type, sign and range, and the message names the field:
// "ram_bytes": -5 used to read as 16 EiB, and every model "fit".
TEST(DeviceProfiles, EveryNumberIsValidatedWithTheFieldNamed) {
  const std::string ok_fields =
      R"("id":"x","name":"y","ram_bytes":4294967296,"storage_bytes":8589934592,)"
      R"("bandwidth_gbs":10.5,"cores":4,"isa":{"neon":true})";
  ASSERT_NO_THROW(parse_device("{" + ok_fields + "}", "x.json"));
  EXPECT_EQ(
      parse_device(
          R"({"id":"x","name":"y","ram_bytes":4e9,"storage_bytes":8589934592,"bandwidth_gbs":1,"cores":4})",
          "x.json")
          .ram_bytes,
      4000000000u);  // a whole number written as a float is fine
  struct Case {
    const char* field;
    const char* value;
  };
  const Case cases[] = {
      {"ram_bytes", "-5"},
      {"ram_bytes", "0"},
      {"ram_bytes", "1500000000.5"},
      {"ram_bytes", R"("lots")"},
      {"ram_bytes", "1e300"},
      {"ram_bytes", "true"},
      {"storage_bytes", "-1"},
      {"storage_bytes", "null"},
      {"bandwidth_gbs", "-3"},
      {"bandwidth_gbs", "0"},
      {"bandwidth_gbs", R"("fast")"},
      {"bandwidth_gbs", "1e9"},
      {"cores", "-4"},
      {"cores", "2.5"},
      {"cores", "100000"},
      {"id", "7"},
      {"name", "[]"},
      {"accelerator", "1"},
      {"measured", R"("yes")"},
      {"isa", "[]"},
  };
  for (const auto& c : cases) {
    nlohmann::json j = nlohmann::json::parse("{" + ok_fields + "}");
    j[c.field] = nlohmann::json::parse(c.value);
    try {
      const DeviceProfile d = parse_device(j.dump(), "x.json");
      ADD_FAILURE() << c.field << " = " << c.value << " accepted (ram " << d.ram_bytes << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + c.field + "'"), std::string::npos)
          << c.field << " = " << c.value << ": " << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("x.json: ", 0), 0u) << e.what();
    }
  }
  nlohmann::json j = nlohmann::json::parse("{" + ok_fields + "}");
  j["isa"]["dotprod"] = 1;
  try {
    parse_device(j.dump(), "x.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'isa.dotprod'"), std::string::npos) << e.what();
  }
}

// The cost of an existing llama.cpp file: its weights, plus the KV cache worked out by hand.
TEST(CostModel, MatchesAFileAndTheKvCacheFormula) {
  const std::string path = test::shared_path("ref/polyglot/polyglot-q4_0.llamacpp.gguf");
  const Model m = load_model(path);
  std::vector<PlannedTensor> plan;
  uint64_t bytes = 0;
  for (const auto& t : m.tensors) {
    plan.push_back({t.name, t.view.numel(), t.view.dtype, t.view.nbytes()});
    bytes += t.view.nbytes();
  }
  const DeviceProfile pi = load_device("raspberry-pi-5");
  const CostEstimate e = estimate_cost(m.config, plan, pi, 256);
  EXPECT_EQ(e.weight_bytes, bytes);
  // K and V, F16, 6 layers × 4 kv heads × 32 dims × 256 positions.
  EXPECT_EQ(e.kv_cache_bytes, 2u * 6 * 4 * 32 * 2 * 256);
  const double file = static_cast<double>(std::filesystem::file_size(path));
  EXPECT_NEAR(e.file_bytes / file, 1.0, 0.1) << "file size estimate off by more than 10 %";
  EXPECT_TRUE(e.fits());
  // Untied output: decode reads everything but the embedding table (one row of it).
  const uint64_t emb = m.get("token_embd.weight").view.nbytes();
  EXPECT_EQ(e.bytes_per_token, bytes - emb + emb / 8192 + e.kv_cache_bytes / 2);
  EXPECT_NEAR(e.roofline_tps, 10e9 / e.bytes_per_token, 1e-6);
  EXPECT_NEAR(e.bits_per_weight, 8.0 * bytes / m.n_params(), 1e-9);
}

}  // namespace
}  // namespace edgefit
