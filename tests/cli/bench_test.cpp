// `edgefit bench` as a user runs it: llama-bench's flags (-p/-n lists and 0 to skip, -pg, -d,
// -ctk/-ctv, -r, -t, -o), every output format parsed back (JSON, JSONL, CSV, Markdown), the
// fields llama-bench names and ours, usage errors with exit 2, a run too big for memory with
// exit 1 naming the allocation, progress on stderr; and bench/side_by_side.sh against fake peers
// that print llama-bench JSON. (Speed itself is measured, not tested: see bench/.)
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "run_command.h"
#include "test_data.h"

namespace edgefit {
namespace {

using nlohmann::json;

std::string model() {
  // run_edgefit() writes the child's output there.
  std::filesystem::create_directories(std::string(EDGEFIT_BINARY_DIR) + "/test-scratch");
  return test::shared_path("ref/polyglot/polyglot-q4_0.llamacpp.gguf");
}

// Runs edgefit bench with `args` after the model; fails the test unless it exits 0.
test::CommandResult bench_ok(std::vector<std::string> args) {
  args.insert(args.begin(), {"bench", model()});
  const auto r = test::run_edgefit(args);
  EXPECT_EQ(r.status, 0) << r.err;
  return r;
}

// One record per line of JSONL output.
std::vector<json> jsonl(const std::string& out) {
  std::vector<json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) v.push_back(json::parse(line));
  return v;
}

TEST(Bench, JsonHasLlamaBenchFieldsAndOurs) {
  const auto r = bench_ok({"-p", "20", "-n", "8", "-t", "1,2", "-r", "3", "-o", "json"});
  const json all = json::parse(r.out);
  ASSERT_TRUE(all.is_array());
  ASSERT_EQ(all.size(), 4u) << "pp20 and tg8 for each of 2 thread counts";
  for (const char* k : {"build_commit",     "cpu_info",       "model_filename",
                        "model_type",       "model_size",     "model_n_params",
                        "n_threads",        "type_k",         "type_v",
                        "n_prompt",         "n_gen",          "n_depth",
                        "test_time",        "avg_ns",         "stddev_ns",
                        "avg_ts",           "stddev_ts",      "samples_ns",
                        "samples_ts",       "kernels",        "attention_kernels",
                        "median_ts",        "min_ts",         "max_ts",
                        "peak_rss_bytes",   "kv_cache_bytes", "roofline_fraction",
                        "repacked_tensors", "huge_page_bytes"})
    ASSERT_TRUE(all[0].contains(k)) << k;
  EXPECT_EQ(all[0]["model_filename"], model());
  EXPECT_FALSE(all[0]["cpu_info"].get<std::string>().empty());
  EXPECT_FALSE(all[0]["kernels"].get<std::string>().empty());
  EXPECT_EQ(all[0]["type_k"], "f16") << "llama.cpp's default cache type";
  EXPECT_EQ(all[0]["model_n_params"].get<int64_t>(), 8916224) << "polyglot's parameter count";
  // llama-bench's order: per thread count, the pp tests, then the tg tests.
  const int want[4][3] = {{1, 20, 0}, {1, 0, 8}, {2, 20, 0}, {2, 0, 8}};
  for (int i = 0; i < 4; ++i) {
    const json& t = all[i];
    EXPECT_EQ(t["n_threads"], want[i][0]);
    EXPECT_EQ(t["n_prompt"], want[i][1]);
    EXPECT_EQ(t["n_gen"], want[i][2]);
    const auto ts = t["samples_ts"].get<std::vector<double>>();
    const auto ns = t["samples_ns"].get<std::vector<double>>();
    ASSERT_EQ(ts.size(), 3u);
    ASSERT_EQ(ns.size(), 3u);
    double sum = 0;
    for (size_t s = 0; s < ts.size(); ++s) {
      // tokens/s and nanoseconds of one sample describe the same run.
      EXPECT_NEAR(ts[s], (want[i][1] + want[i][2]) / (ns[s] * 1e-9), 1e-3 * ts[s]);
      sum += ts[s];
    }
    EXPECT_NEAR(t["avg_ts"].get<double>(), sum / 3, 1e-9 * sum);
    EXPECT_LE(t["min_ts"].get<double>(), t["median_ts"].get<double>());
    EXPECT_GE(t["max_ts"].get<double>(), t["median_ts"].get<double>());
    const bool tg = want[i][1] == 0;
    EXPECT_EQ(t["roofline_fraction"].is_null(), !tg) << "roofline only for generation";
    if (tg) {
      // The fraction is per run against the bandwidth probed around it, so it lies between the
      // extremes of tokens/s over the extremes of the probed roofline.
      const double bytes = t["bytes_per_token"].get<double>();
      const double lo =
          t["min_ts"].get<double>() / (t["read_bw_gbs_max"].get<double>() * 1e9 / bytes);
      const double hi =
          t["max_ts"].get<double>() / (t["read_bw_gbs_min"].get<double>() * 1e9 / bytes);
      EXPECT_GE(t["roofline_fraction"].get<double>(), lo * 0.999);
      EXPECT_LE(t["roofline_fraction"].get<double>(), hi * 1.001);
    }
    // Peak RSS holds at least the weights the run touched (mapped or repacked copies).
    EXPECT_GT(t["peak_rss_bytes"].get<double>(), 0.5 * t["weight_bytes"].get<double>());
  }
  EXPECT_GT(all[0]["repacked_tensors"].get<int>(), 0) << "polyglot's ffn_down rows repack";
}

TEST(Bench, GenerationOnlyAndTheJsonAlias) {
  // The command: -p 0 skips the prompt test.
  const auto r = bench_ok({"-p", "0", "-n", "64", "-t", "1", "-r", "1", "-o", "json"});
  const json all = json::parse(r.out);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["n_prompt"], 0);
  EXPECT_EQ(all[0]["n_gen"], 64);
  EXPECT_EQ(all[0]["test"], "tg64");
  const auto alias = bench_ok({"-p", "8", "-n", "0", "-t", "1", "-r", "1", "--json"});
  const json a = json::parse(alias.out);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["test"], "pp8");
  // llama-bench's spelling: the model after -m, options before it, -n repeated.
  const auto m = test::run_edgefit({"bench", "-p", "0", "-n", "2", "-n", "3", "-t", "1", "-r", "1",
                                    "-o", "jsonl", "-m", model()});
  ASSERT_EQ(m.status, 0) << m.err;
  const std::vector<json> v = jsonl(m.out);
  ASSERT_EQ(v.size(), 2u) << m.out;
  EXPECT_EQ(v[0]["test"], "tg2");
  EXPECT_EQ(v[1]["test"], "tg3");
  EXPECT_EQ(v[0]["model_filename"], model());
}

// -pg, -d, repeated flags and comma lists combine as in llama-bench; cache types are reported.
TEST(Bench, ListsDepthsPromptGenerationAndCacheTypes) {
  const auto r = bench_ok({"-p", "8", "-p", "16", "-n",   "4",    "-pg",  "8,4", "-d", "0,40",
                           "-t", "1", "-r", "1",  "-ctk", "q8_0", "-ctv", "f32", "-o", "jsonl"});
  const std::vector<json> v = jsonl(r.out);
  const std::vector<std::string> names = {"pp8", "pp8 @ d40", "pp16",    "pp16 @ d40",
                                          "tg4", "tg4 @ d40", "pp8+tg4", "pp8+tg4 @ d40"};
  ASSERT_EQ(v.size(), names.size()) << r.out;
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(v[i]["test"], names[i]);
    EXPECT_EQ(v[i]["n_depth"], names[i].find("@ d40") != std::string::npos ? 40 : 0);
    EXPECT_EQ(v[i]["type_k"], "q8_0");
    EXPECT_EQ(v[i]["type_v"], "f32");
  }
  EXPECT_EQ(v[6]["n_prompt"], 8);
  EXPECT_EQ(v[6]["n_gen"], 4);
  // pp+tg counts both in its tokens/s.
  const double ts = v[6]["samples_ts"][0].get<double>();
  EXPECT_NEAR(ts, 12 / (v[6]["samples_ns"][0].get<double>() * 1e-9), 1e-3 * ts);
}

// The cache's size follows its types: f32 keys and values take twice f16's bytes.
TEST(Bench, CacheBytesFollowTheTypes) {
  auto kv_bytes = [](const char* type) {
    const auto r = bench_ok(
        {"-p", "0", "-n", "2", "-t", "1", "-r", "1", "-ctk", type, "-ctv", type, "-o", "json"});
    return json::parse(r.out)[0]["kv_cache_bytes"].get<double>();
  };
  const double f16 = kv_bytes("f16"), f32 = kv_bytes("f32"), q8 = kv_bytes("q8_0");
  EXPECT_EQ(f32, 2 * f16);
  EXPECT_LT(q8, 0.6 * f16);  // 34 bytes per 32 values against 64
}

TEST(Bench, CsvAndMarkdownHaveLlamaBenchShape) {
  const auto csv = bench_ok({"-p", "8", "-n", "4", "-t", "1", "-r", "2", "-o", "csv"});
  std::istringstream in(csv.out);
  std::string header, row;
  std::getline(in, header);
  EXPECT_EQ(header.rfind("build_commit,", 0), 0u) << header;
  for (const char* k : {",cpu_info,", ",model_filename,", ",n_prompt,", ",n_gen,", ",avg_ts,",
                        ",stddev_ts,", ",kernels,", ",median_ts,", ",peak_rss_bytes,"})
    EXPECT_NE(header.find(k), std::string::npos) << k;
  const auto columns = std::count(header.begin(), header.end(), ',') + 1;
  int rows = 0;
  while (std::getline(in, row)) {
    ++rows;
    // Every value quoted: "a","b",… → one more field than the separating commas between quotes.
    ASSERT_EQ(row.front(), '"');
    ASSERT_EQ(row.back(), '"');
    size_t fields = 1;
    for (size_t i = 0; i + 2 < row.size(); ++i)
      if (row.compare(i, 3, "\",\"") == 0) ++fields;
    EXPECT_EQ(static_cast<long>(fields), columns) << row;
  }
  EXPECT_EQ(rows, 2);

  const auto md = bench_ok({"-p", "8", "-n", "4", "-t", "1", "-r", "1", "-o", "md"});
  EXPECT_EQ(md.out.rfind("| model ", 0), 0u) << md.out;
  for (const char* k : {"| backend ", "| threads |", " test |", " t/s |", "pp8", "tg4",
                        "build: ", "CPU: ", "kernels: "})
    EXPECT_NE(md.out.find(k), std::string::npos) << k << "\n" << md.out;
}

TEST(Bench, TextNamesCpuAndKernelsAndProgressGoesToStderr) {
  const auto r = bench_ok({"-p", "8", "-n", "4", "-t", "1", "-r", "1"});
  EXPECT_NE(r.out.find("CPU "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kernels "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tg4"), std::string::npos) << r.out;
  // Not a terminal: plain progress lines, the last one saying it is done.
  EXPECT_NE(r.err.find("bench: 2/2 (100%)"), std::string::npos) << r.err;
}

TEST(Bench, UsageErrorsExitTwoWithOneLine) {
  const std::vector<std::vector<std::string>> cases = {
      {"-p", "0", "-n", "0"},  // nothing left to run
      {"-p", "0", "-n", "0", "-pg", "0,0"},
      {"-t", "0"},
      {"-pg", "16"},
      {"-p", "x"},
      {"-ctk", "q4_0"},
      {"-o", "xml"},
      {"-r", "0"},
      {"--bogus"},
      {"-o", "csv", "--json"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"bench", model()};
    args.insert(args.end(), c.begin(), c.end());
    const auto r = test::run_edgefit(args);
    EXPECT_EQ(r.status, 2) << c[0] << " " << r.err;
    EXPECT_EQ(r.err.rfind("edgefit: usage error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  const auto none = test::run_edgefit({"bench", model(), "-p", "0", "-n", "0"});
  EXPECT_NE(none.err.find("nothing to run"), std::string::npos) << none.err;
  const auto missing = test::run_edgefit({"bench", "/nonexistent/model.gguf", "-r", "1"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err.rfind("edgefit: error: ", 0), 0u) << missing.err;
}

// A prompt no machine can hold: refused before allocating, naming the KV cache and its size.
TEST(Bench, TooLargeForMemoryNamesTheAllocation) {
  const auto r = test::run_edgefit({"bench", model(), "-p", "1000000000", "-n", "0", "-t", "1"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.err.rfind("edgefit: error: bench needs ", 0), 0u) << r.err;
  for (const char* k : {"for the KV cache", "1000000000 positions", "GiB", "activation buffers",
                        "of memory is available"})
    EXPECT_NE(r.err.find(k), std::string::npos) << k << ": " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_LT(r.peak_rss_kb, 512 * 1024) << "nothing big was allocated";
}

// --- bench/side_by_side.sh ---

struct Shell {
  int status;       // exit status
  std::string out;  // stdout
  std::string err;  // stderr
};

Shell run_shell(const std::string& cmd, const std::string& dir) {
  const std::string out = dir + "/sh.out", err = dir + "/sh.err";
  const int st = std::system((cmd + " >" + out + " 2>" + err).c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(out), slurp(err)};
}

// A fake llama-bench: logs its name and arguments, prints llama-bench JSON whose tokens/s cycle
// through `rates` (one per call), as b4748 does (no n_depth field).
void write_fake_peer(const std::string& path, const std::string& name, const std::string& log,
                     const std::vector<int>& rates) {
  std::ofstream f(path);
  f << "#!/usr/bin/env bash\n"
    << "echo \"" << name << " $*\" >> " << log << "\n"
    << "count_file=" << path << ".count\n"
    << "c=$(cat $count_file 2>/dev/null || echo 0); echo $((c + 1)) > $count_file\n"
    << "rates=(";
  for (int r : rates) f << r << " ";
  f << ")\nrate=${rates[$((c % ${#rates[@]}))]}\n"
    << "echo 'llama_model_loader: fake' >&2\n"
    << "cat <<EOF\n[\n"
    << "  {\"build_commit\": \"fake\", \"n_threads\": 2, \"n_prompt\": 16, \"n_gen\": 0,"
    << " \"avg_ts\": $((rate * 10)).5, \"samples_ts\": [ 1 ]},\n"
    << "  {\"build_commit\": \"fake\", \"n_threads\": 2, \"n_prompt\": 0, \"n_gen\": 8,"
    << " \"avg_ts\": $rate, \"samples_ts\": [ 1 ]}\n]\nEOF\n";
  f.close();
  ::chmod(path.c_str(), 0755);
}

TEST(SideBySide, InterleavesRoundsAndPrintsMediansAndRatios) {
  if (std::system("command -v jq >/dev/null 2>&1") != 0) GTEST_SKIP() << "jq is not installed";
  const std::string dir = std::string(EDGEFIT_BINARY_DIR) + "/test-scratch/side_by_side";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string log = dir + "/calls.log";
  // Medians over 3 rounds: llama.cpp tg 20 (10, 30, 20), ik_llama.cpp 25; edgefit 40.
  write_fake_peer(dir + "/llama-bench", "llama", log, {10, 30, 20});
  write_fake_peer(dir + "/ik-llama-bench", "ik", log, {25, 25, 26});
  write_fake_peer(dir + "/edgefit", "edgefit", log, {40});
  const std::string script = std::string(EDGEFIT_SOURCE_DIR) + "/bench/side_by_side.sh";
  const Shell s = run_shell(script + " --edgefit " + dir + "/edgefit --llama-bench " + dir +
                                "/llama-bench --ik-llama-bench " + dir +
                                "/ik-llama-bench -p 16 -n 8 -t 2 --rounds 3 " + model(),
                            dir);
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_NE(s.out.find("CPU: "), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("| model | threads | test | edgefit | llama.cpp | ik_llama.cpp | "
                       "edgefit / best peer |"),
            std::string::npos)
      << s.out;
  // tg8: edgefit 40 against the best peer median 25 → 1.60; pp16: 400.5 / 250.5 → 1.60.
  EXPECT_NE(s.out.find("| 2 | tg8 | 40.00 | 20.00 | 25.00 | 1.60 |"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("| 2 | pp16 | 400.50 | 200.50 | 250.50 | 1.60 |"), std::string::npos)
      << s.out;
  // Every round ran each runtime once, same -p/-n/-t, ik_llama.cpp with -rtr 1, in rotating order.
  std::ifstream in(log);
  std::vector<std::string> calls;
  for (std::string line; std::getline(in, line);) calls.push_back(line);
  ASSERT_EQ(calls.size(), 9u);
  for (const std::string& c : calls) {
    EXPECT_NE(c.find("-p 16 -n 8 -t 2"), std::string::npos) << c;
    EXPECT_EQ(c.rfind("ik ", 0) == 0, c.find("-rtr 1") != std::string::npos) << c;
  }
  EXPECT_EQ(calls[0].substr(0, 7), "edgefit");
  EXPECT_EQ(calls[3].substr(0, 5), "llama") << "round 2 starts with the next runtime";
  EXPECT_EQ(calls[6].substr(0, 2), "ik");
}

// The real edgefit's JSON goes through the same parsing; a failing peer shows as "–".
TEST(SideBySide, ReadsEdgefitItselfAndSurvivesAFailingPeer) {
  if (std::system("command -v jq >/dev/null 2>&1") != 0) GTEST_SKIP() << "jq is not installed";
  const std::string dir = std::string(EDGEFIT_BINARY_DIR) + "/test-scratch/side_by_side2";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir + "/broken-bench");
    f << "#!/usr/bin/env bash\necho 'error: unknown argument: -d' >&2\nexit 1\n";
  }
  ::chmod((dir + "/broken-bench").c_str(), 0755);
  const std::string script = std::string(EDGEFIT_SOURCE_DIR) + "/bench/side_by_side.sh";
  const Shell s = run_shell("EDGEFIT=" + std::string(EDGEFIT_BINARY_DIR) + "/edgefit " + script +
                                " --llama-bench " + dir +
                                "/broken-bench -p 8 -n 4 -t 1 -d 16 --rounds 3 " + model(),
                            dir);
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_NE(s.err.find("llama.cpp failed"), std::string::npos) << s.err;
  EXPECT_NE(s.out.find("| 1 | pp8 @ d16 | "), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("| 1 | tg4 @ d16 | "), std::string::npos) << s.out;
  EXPECT_NE(s.out.find(" | – | – |"), std::string::npos) << "no peer, no ratio\n" << s.out;
  const Shell bad = run_shell(script + " --rounds 3", dir);
  EXPECT_EQ(bad.status, 2) << "no GGUF files is a usage error";
}

}  // namespace
}  // namespace edgefit
