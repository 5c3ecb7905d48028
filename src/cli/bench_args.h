// `edgefit bench`'s arguments, spelled as llama.cpp's llama-bench takes them: comma lists and
// repeated flags add values (-p 128,512 -p 1024), 0 skips a test (-p 0: generation only), -pg
// PP,TG runs a prompt followed by a generation, -d lists KV-cache depths to measure at, and
// -ctk/-ctv pick the cache types. The runs are every combination, in llama-bench's order.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "model/kv_cache.h"

namespace edgefit::cli {

// Output format: ours (text) or llama-bench's (-o md|json|jsonl|csv).
enum class BenchFormat { Text, Markdown, Json, Jsonl, Csv };

struct BenchOptions {
  std::string model;                       // model path
  std::vector<int> n_prompt;               // -p: prompt lengths (0 = none; default 512)
  std::vector<int> n_gen;                  // -n: generation lengths (0 = none; default 128)
  std::vector<std::pair<int, int>> n_pg;   // -pg PP,TG: prompt then generation, timed together
  std::vector<int> n_depth;                // -d: cache positions filled before each run (0)
  std::vector<int> threads;                // -t: thread counts (default 1,2)
  std::vector<KVType> type_k;              // -ctk: key cache types (default f16)
  std::vector<KVType> type_v;              // -ctv: value cache types (default f16)
  int reps = 5;                            // -r: repetitions per run
  BenchFormat format = BenchFormat::Text;  // -o (or --json)
  bool no_repack = false;                  // keep weights in their file layout
};

// One measured run: llama-bench's "test" (one row of its table).
struct BenchTest {
  int n_prompt = 0;             // prompt tokens timed (0: none)
  int n_gen = 0;                // generated tokens timed (0: none)
  int n_depth = 0;              // positions in the cache before the timed part
  int threads = 1;              // thread count
  KVType type_k = KVType::F16;  // key cache type
  KVType type_v = KVType::F16;  // value cache type
};

// Parses the arguments CLI11 cannot take (-p, -pg, -ctk, -ctv and the model path, positional or
// after -m, in any order, `-p` being a prefix of `-pg`), adding them to `o`. Throws UsageError for
// unknown options, missing values and bad numbers.
void parse_bench_extras(const std::vector<std::string>& args, BenchOptions& o);
// Fills in defaults and checks ranges; throws UsageError (e.g. when -p 0 -n 0 leave nothing).
void finish_bench_options(BenchOptions& o);
// Every run, in llama-bench's order: per cache types and thread count, each -p, each -n, each
// -pg, each at every depth.
std::vector<BenchTest> bench_tests(const BenchOptions& o);
// "pp512", "tg128", "pp512+tg128", with " @ d4096" at a depth (llama-bench's test names).
std::string bench_test_name(const BenchTest& t);

}  // namespace edgefit::cli
