// `edgefit inspect` as a user runs it: output, JSON, exit statuses, and memory on a 4 GB file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "test_data.h"

namespace edgefit {
namespace {

TEST(Inspect, JsonDescribesEveryTensor) {
  const auto r = test::run_edgefit({"inspect", "--json", test::shared_path("models/polyglot/hf")});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["n_params"], 8916224);  // the model card's "about 8.9 M parameters"
  EXPECT_DOUBLE_EQ(j["bits_per_weight"].get<double>(), 32.0);
  EXPECT_EQ(j["file_bytes"],
            std::filesystem::file_size(test::shared_path("models/polyglot/hf/model.safetensors")));
  ASSERT_EQ(j["tensors"].size(), 57u);
  const auto& t = j["tensors"][0];
  for (const char* k : {"name", "shape", "dtype", "bytes"}) EXPECT_TRUE(t.contains(k)) << k;
}

TEST(Inspect, QuantizedGgufReportsItsBitsPerWeight) {
  const std::string path = test::shared_path("ref/models/tiny-qwen3/gguf/tiny-qwen3-Q4_K_M.gguf");
  const auto r = test::run_edgefit({"inspect", "--json", path});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "qwen3");
  uint64_t bytes = 0;
  std::map<std::string, int> types;
  for (const auto& t : j["tensors"]) {
    bytes += t["bytes"].get<uint64_t>();
    ++types[t["dtype"].get<std::string>()];
  }
  // The histogram recorded for this file in ref/models/MANIFEST.json.
  EXPECT_EQ(types["Q4_K"], 3);
  EXPECT_EQ(types["Q5_0"], 9);
  EXPECT_EQ(types["Q6_K"], 1);
  EXPECT_EQ(types["Q8_0"], 2);
  EXPECT_NEAR(j["bits_per_weight"].get<double>(), 8.0 * bytes / j["n_params"].get<double>(), 1e-9);
  EXPECT_LE(bytes, j["file_bytes"].get<uint64_t>());
}

TEST(Inspect, TextTableNamesArchitectureAndTotals) {
  const auto r = test::run_edgefit(
      {"inspect", test::shared_path("models/stories260K/llama2c/stories260K.bin")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("architecture: llama"), std::string::npos);
  EXPECT_NE(r.out.find("blk.4.ffn_down.weight"), std::string::npos);
  EXPECT_NE(r.out.find("bits per weight"), std::string::npos);
}

TEST(Inspect, ExitStatusesAndOneLineErrors) {
  const auto missing = test::run_edgefit({"inspect", "/no/such/model.gguf"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err.rfind("edgefit: error: ", 0), 0u) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;

  const std::string dir = test::scratch_dir("inspect_bad");
  std::ofstream(dir + "/config.json") << R"({"model_type":"falcon"})";
  std::ofstream(dir + "/model.safetensors") << "xxxxxxxx";
  const auto unknown = test::run_edgefit({"inspect", dir});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(
      unknown.err.find("unknown architecture 'falcon' (supported: llama, mistral, qwen2, qwen3)"),
      std::string::npos)
      << unknown.err;

  EXPECT_EQ(test::run_edgefit({"inspect"}).status, 2);                  // missing argument
  EXPECT_EQ(test::run_edgefit({"inspect", "--bogus", "x"}).status, 2);  // unknown flag
  EXPECT_EQ(test::run_edgefit({"no-such-command"}).status, 2);
  EXPECT_EQ(test::run_edgefit({"--help"}).status, 0);
}

// A 4 GB GGUF (sparse: the tensor bytes are a hole) must be inspected from its header alone.
TEST(Inspect, MultiGigabyteFileReadsOnlyHeaders) {
  const std::string path = test::scratch_dir("inspect_sparse") + "/big.gguf";
  {
    std::string h = "GGUF";
    auto put = [&h](auto v) { h.append(reinterpret_cast<const char*>(&v), sizeof v); };
    auto str = [&](const std::string& s) {
      put(uint64_t{s.size()});
      h += s;
    };
    put(uint32_t{3});
    put(uint64_t{1});  // tensors
    put(uint64_t{1});  // kv
    str("general.architecture");
    put(uint32_t{8});
    str("llama");
    str("token_embd.weight");
    put(uint32_t{2});
    put(uint64_t{4096});
    put(uint64_t{262144});  // 4096 × 262144 × 4 bytes = 4 GiB of F32
    put(uint32_t{0});
    put(uint64_t{0});
    h.resize((h.size() + 31) / 32 * 32, '\0');
    std::ofstream(path, std::ios::binary).write(h.data(), static_cast<std::streamsize>(h.size()));
    ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(h.size() + (4ull << 30))), 0);
  }
  const auto r = test::run_edgefit({"inspect", "--json", path});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tensors"][0]["bytes"], 4ull << 30);
#if defined(__SANITIZE_ADDRESS__)
  const long limit_kb =
      160 * 1024;  // ASan's allocator and shadow memory add ~30-60 MB of their own
#else
  const long limit_kb = 64 * 1024;
#endif
  EXPECT_LT(r.peak_rss_kb, limit_kb) << "inspect touched the tensor data";
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace edgefit
