// The measurements behind `edgefit bench`: every BenchTest run r times on one loaded model, with
// the machine's read bandwidth probed around each generation run (the roofline), peak RSS per
// run, and the memory a run needs checked against what is available before anything is
// allocated.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cli/bench_args.h"

namespace edgefit::cli {

// What is measured once per model (llama-bench's model fields and ours).
struct BenchModelInfo {
  std::string filename;           // the path the user gave
  std::string type;               // llama-bench's model_type: "llama 1.1B Q4_0"
  uint64_t size = 0;              // model_size: bytes of all tensors
  int64_t n_params = 0;           // model_n_params
  uint64_t file_bytes = 0;        // bytes of the file (0 for a folder)
  uint64_t weight_bytes = 0;      // bytes of all tensors (= size)
  uint64_t bytes_per_token = 0;   // weight bytes one decode step reads
  double load_s = 0;              // load time
  double repack_s = 0;            // repack time
  int repacked_tensors = 0;       // weights repacked for the kernels
  int copied_tensors = 0;         // weights copied as stored onto huge pages
  uint64_t placed_bytes = 0;      // bytes of both
  uint64_t huge_page_bytes = 0;   // bytes of them on 2 MiB pages
  std::string cpu_info;           // CPU model name
  std::string kernels;            // matmul kernel table ("avx512vnni", …)
  std::string attention_kernels;  // attention kernel table ("avx512", …)
};

// One test's results (llama-bench's samples, and ours).
struct BenchResult {
  BenchTest test;                                // what ran
  std::string test_time;                         // when it started, ISO 8601 UTC
  std::vector<double> samples_ns;                // wall time of the timed part, per repetition
  std::vector<double> samples_ts;                // tokens/s per repetition
  double avg_ts = 0, stddev_ts = 0;              // llama-bench's mean and sample deviation
  double median_ts = 0, min_ts = 0, max_ts = 0;  // ours: median and range
  bool has_roofline = false;  // a generation-only test: bandwidth probed around each run
  double read_bw_gbs = 0, read_bw_gbs_min = 0, read_bw_gbs_max = 0;  // probed bandwidth
  double roofline_tps = 0;  // median bandwidth ÷ bytes per generated token
  double roofline_fraction = 0, roofline_fraction_min = 0, roofline_fraction_max = 0;
  uint64_t bytes_per_token = 0;      // weights + mean KV bytes read per generated token
  uint64_t peak_rss_bytes = 0;       // peak resident memory during the timed parts
  uint64_t kv_cache_bytes = 0;       // bytes of the KV cache allocated for the run
  double rss_over_file_plus_kv = 0;  // peak RSS ÷ (file + KV cache)
  double first_token_s = 0;          // first generated token's latency (first repetition)
};

// Loads the model and runs every test; `on_result` sees each test as soon as it finished (the
// streaming formats print it then). Throws Error when a run needs more memory than is available.
void run_bench(const BenchOptions& o, BenchModelInfo& info,
               const std::function<void(const BenchModelInfo&, const BenchResult&)>& on_result);

// "AMD EPYC 9R14 …": the one CPU probe's model name (core/cpu_features.h).
std::string cpu_model_name();

}  // namespace edgefit::cli
