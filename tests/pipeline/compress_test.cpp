// `edgefit compress` end to end on the polyglot model (small settings so it runs in about a
// minute): a report that fits the device and covers every language, stages that survive a kill,
// and a clear message when nothing can fit.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "../cli/run_command.h"
#include "core/atomic_file.h"
#include "formats/gguf.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> compress_args(const std::string& device, const std::string& out) {
  std::vector<std::string> a = {"compress", test::shared_path("models/polyglot/hf"), "--device", device, "-o", out,
                                "--langs", test::shared_path("text/ntrex128/eval"), "--eval-ctx", "256",
                                "--max-chunks", "2", "--calib-tokens", "512", "--recipes", "q2_k,q8_0",
                                "--evaluate-all", "--calib"};
  for (const auto& e : fs::directory_iterator(test::shared_path("text/ntrex128/calib"))) a.push_back(e.path().string());
  return a;
}

void expect_good_report(const std::string& out, const std::string& device) {
  const auto j = nlohmann::json::parse(read_file(out + "/report.json"));
  EXPECT_EQ(j["device"]["id"], device);
  ASSERT_FALSE(j["chosen"].is_null());
  EXPECT_TRUE(j["chosen"]["fits"].get<bool>());
  EXPECT_TRUE(fs::exists(j["chosen"]["file"].get<std::string>()));
  EXPECT_EQ(j["languages"].size(), 12u);  // every NTREX eval language
  for (const auto& c : j["candidates"]) EXPECT_FALSE(c["kld_mean"].is_null()) << c["recipe"];
  bool names_languages = false;
  for (const auto& w : j["warnings"])
    if (w.get<std::string>().find("languages that degrade most") != std::string::npos) names_languages = true;
  EXPECT_TRUE(names_languages) << j["warnings"].dump();
  EXPECT_TRUE(fs::exists(out + "/report.html"));
}

TEST(Compress, RaspberryPiAndControllerReportsAndResumeAfterKill) {
  for (const std::string device : {"raspberry-pi-5", "controller-8gb-flash"}) {
    SCOPED_TRACE(device);
    const std::string out = test::scratch_dir("compress-" + device);
    const auto r = test::run_edgefit(compress_args(device, out));
    ASSERT_EQ(r.status, 0) << r.err;
    expect_good_report(out, device);
  }
}

TEST(Compress, KilledRunResumesWithoutRedoingFinishedStages) {
  const std::string out = test::scratch_dir("compress-kill");
  const auto args = compress_args("raspberry-pi-5", out);
  // Start a run and kill it (SIGKILL: no clean-up) once the baseline and imatrix stages are done.
  const pid_t pid = test::spawn_edgefit(args, "/dev/null", "/dev/null");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while (!fs::exists(out + "/.edgefit-stages/imatrix.json") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(fs::exists(out + "/.edgefit-stages/baseline.json"));
  ASSERT_FALSE(fs::exists(out + "/report.json")) << "the run finished before it could be killed";

  const auto r = test::run_edgefit(args);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("stage baseline: cached"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stage imatrix: cached"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("stage baseline: evaluating"), std::string::npos) << r.err;
  expect_good_report(out, "raspberry-pi-5");
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "stale temp file " << e.path();

  // A third run redoes nothing at all.
  const auto again = test::run_edgefit(args);
  ASSERT_EQ(again.status, 0) << again.err;
  for (const char* stage : {"baseline", "imatrix", "quantize q2_k", "validate q2_k", "quantize q8_0", "validate q8_0"})
    EXPECT_NE(again.err.find(std::string("stage ") + stage + ": cached"), std::string::npos) << stage << "\n" << again.err;
}

// Writes a GGUF header with every tensor of a Llama-2-7B (F16) and truncates the file to its full
// 13 GB: the weights are a sparse hole, since planning reads only the header.
void write_sparse_7b(const std::string& path) {
  std::string h = "GGUF";
  auto put = [&h](auto v) { h.append(reinterpret_cast<const char*>(&v), sizeof v); };
  auto str = [&](const std::string& s) { put(uint64_t{s.size()}); h += s; };
  struct T { std::string name; std::vector<uint64_t> ne; };
  std::vector<T> ts = {{"token_embd.weight", {4096, 32000}}, {"output_norm.weight", {4096}}, {"output.weight", {4096, 32000}}};
  for (int l = 0; l < 32; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_output"}) ts.push_back({p + n + ".weight", {4096, 4096}});
    ts.push_back({p + "attn_norm.weight", {4096}});
    ts.push_back({p + "ffn_norm.weight", {4096}});
    ts.push_back({p + "ffn_gate.weight", {4096, 11008}});
    ts.push_back({p + "ffn_up.weight", {4096, 11008}});
    ts.push_back({p + "ffn_down.weight", {11008, 4096}});
  }
  const std::vector<std::pair<std::string, uint32_t>> kv = {
      {"llama.block_count", 32}, {"llama.embedding_length", 4096}, {"llama.feed_forward_length", 11008},
      {"llama.attention.head_count", 32}, {"llama.attention.head_count_kv", 32}, {"llama.context_length", 4096}};
  put(uint32_t{3});
  put(uint64_t{ts.size()});
  put(uint64_t{kv.size() + 1});
  str("general.architecture");
  put(uint32_t{8});
  str("llama");
  for (const auto& [k, v] : kv) {
    str(k);
    put(uint32_t{4});
    put(v);
  }
  uint64_t offset = 0;
  for (const auto& t : ts) {
    str(t.name);
    put(uint32_t(t.ne.size()));
    for (uint64_t e : t.ne) put(e);
    const uint32_t type = t.ne.size() == 1 ? 0 : 1;  // norms F32, matrices F16
    put(type);
    put(offset);
    uint64_t n = 1;
    for (uint64_t e : t.ne) n *= e;
    offset += (n * (type == 0 ? 4 : 2) + 31) / 32 * 32;
  }
  h.resize((h.size() + 31) / 32 * 32, '\0');
  std::ofstream(path, std::ios::binary).write(h.data(), static_cast<std::streamsize>(h.size()));
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(h.size() + offset)), 0);
}

TEST(Compress, SevenBillionParametersOnAOneGigabyteDeviceNamesTheSmallestSize) {
  const std::string dir = test::scratch_dir("compress-7b");
  write_sparse_7b(dir + "/llama-2-7b-f16.gguf");
  std::ofstream(dir + "/one-gb.json") << R"({"id":"one-gb","name":"1 GB board","ram_bytes":1073741824,
    "storage_bytes":4294967296,"bandwidth_gbs":4,"cores":4,"isa":{"neon":true}})";
  const auto r = test::run_edgefit({"compress", dir + "/llama-2-7b-f16.gguf", "--device", dir + "/one-gb.json", "-o",
                                    dir + "/out", "--text", test::shared_path("text/tinystories/TinyStories-valid.head31k.txt")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("edgefit: error: no preset fits one-gb"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the smallest achievable is q2_k with a 2."), std::string::npos) << r.err;  // ≈2.6 GiB
  // The plan table comes first; the error is the one last line.
  const size_t at = r.err.find("edgefit: error: ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(r.err.find('\n', at), r.err.size() - 1) << r.err;
  EXPECT_LT(r.peak_rss_kb, 256 * 1024) << "planning must not read the weights";
}

TEST(Compress, RecipeIsTheOneCandidateAndTheReportEmbedsIt) {
  const std::string out = test::scratch_dir("compress-recipe");
  const std::string recipe = out + "/r.json";
  std::ofstream(recipe) << R"({"schema_version": 1, "name": "q4_0-down8", "base": "q4_0",
    "method": {"name": "imatrix"}, "rules": [{"match": "ffn_down", "layers": [0, 1], "format": "q8_0"}]})";
  std::vector<std::string> args = compress_args("raspberry-pi-5", out);
  const auto at = std::find(args.begin(), args.end(), "--recipes");
  args.erase(at, at + 2);  // the recipe replaces the preset ladder
  args.insert(args.begin() + 2, {"--recipe", recipe});
  const auto r = test::run_edgefit(args);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(read_file(out + "/report.json"));
  ASSERT_EQ(j["candidates"].size(), 1u);
  EXPECT_EQ(j["chosen"]["recipe"], "q4_0-down8");
  EXPECT_EQ(j["chosen"]["method"], "imatrix");
  EXPECT_EQ(j["recipe"]["base"], "q4_0");
  EXPECT_EQ(j["recipe"]["rules"][0]["layers"], nlohmann::json::array({0, 1}));
  const GgufFile g(j["chosen"]["file"].get<std::string>());
  EXPECT_EQ(g.find_tensor("blk.1.ffn_down.weight")->type, DType::Q8_0);
  EXPECT_EQ(g.find_tensor("blk.2.ffn_down.weight")->type, DType::Q4_0);
}

TEST(Compress, TruncatedCachedOutputIsRebuiltNotReportedCached) {
  // issue 21: a cached stage output is checked against its recorded size and hash before reuse.
  const std::string out = test::scratch_dir("compress-truncated");
  std::vector<std::string> args = compress_args("raspberry-pi-5", out);
  const auto at = std::find(args.begin(), args.end(), "q2_k,q8_0");
  *at = "q8_0";
  const auto first = test::run_edgefit(args);
  ASSERT_EQ(first.status, 0) << first.err;
  const std::string gguf = out + "/q8_0.gguf";
  const auto size = fs::file_size(gguf);
  fs::resize_file(gguf, size / 2);
  const auto second = test::run_edgefit(args);
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_EQ(second.err.find("stage quantize q8_0: cached"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("stage imatrix: cached"), std::string::npos) << second.err;
  EXPECT_EQ(fs::file_size(gguf), size);
  const auto third = test::run_edgefit(args);  // intact now: reused
  ASSERT_EQ(third.status, 0) << third.err;
  EXPECT_NE(third.err.find("stage quantize q8_0: cached"), std::string::npos) << third.err;
}

}  // namespace
}  // namespace edgefit
