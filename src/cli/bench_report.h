// `edgefit bench`'s output formats: ours (text, one line per run with the roofline and memory),
// and llama-bench's -o md|json|jsonl|csv with its field names where they mean the same thing
// (model_filename, model_type, model_size, model_n_params, n_threads, type_k, type_v, n_prompt,
// n_gen, n_depth, test_time, avg_ns, stddev_ns, avg_ts, stddev_ts, samples_ns, samples_ts,
// cpu_info, build_commit …) and ours alongside (median and range, roofline fraction, peak RSS,
// kernel tables). Every format names the CPU model and the kernel tables.
#pragma once

#include <memory>

#include "cli/bench_measure.h"

namespace edgefit::cli {

class BenchPrinter {
 public:
  virtual ~BenchPrinter() = default;
  // Called once per finished test, in order (streaming formats print it at once).
  virtual void result(const BenchModelInfo& info, const BenchResult& r) = 0;
  // Called after the last test.
  virtual void finish() = 0;
};

// A printer writing `format` to stdout; `o` decides which optional columns md shows.
std::unique_ptr<BenchPrinter> make_bench_printer(BenchFormat format, const BenchOptions& o);

}  // namespace edgefit::cli
