// `edgefit bench MODEL [-p 512] [-n 128] [-pg PP,TG] [-d DEPTHS] [-t 1,2] [-r 5] [-ctk f16]
// [-ctv f16] [-o text|md|json|jsonl|csv]`: prompt-processing and generation speed with
// llama.cpp's llama-bench conventions (flags, test names, output fields), plus ours: median and
// range of r runs, peak memory, and generation as a fraction of the memory-bandwidth roofline,
// with the machine's read bandwidth measured around each generation run. Decode reads every
// weight once per token (and the KV cache up to its position), so tokens/s ≤ read bandwidth ÷
// bytes per token. Flags: bench_args.h; measuring: bench_measure.h; formats: bench_report.h.
#include "cli/bench_args.h"
#include "cli/bench_measure.h"
#include "cli/bench_report.h"
#include "cli/commands.h"
#include "core/error.h"

namespace edgefit::cli {
namespace {

BenchFormat parse_format(const std::string& s) {
  if (s == "text") return BenchFormat::Text;
  if (s == "md") return BenchFormat::Markdown;
  if (s == "json") return BenchFormat::Json;
  if (s == "jsonl") return BenchFormat::Jsonl;
  if (s == "csv") return BenchFormat::Csv;
  throw UsageError("-o must be one of text, md, json, jsonl, csv; got '" + s + "'");
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto output = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "bench", "prompt and generation speed against the memory-bandwidth roofline");
  // -p is a prefix of -pg and -ctk/-ctv are not CLI11 names: these and the model are parsed from
  // what CLI11 leaves (bench_args.cpp), so any order works as in llama-bench.
  cmd->allow_extras();
  cmd->add_option("-n,--n-gen", o->n_gen, "generated tokens, list (default 128; 0 skips)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("-d,--n-depth", o->n_depth, "KV cache depth before each run, list (default 0)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("-t,--threads", o->threads, "thread counts, list (default 1,2)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("-r,--repetitions", o->reps, "repetitions per run (default 5)");
  cmd->add_option("-o,--output", *output, "output format: text (default), md, json, jsonl, csv");
  cmd->add_flag("--json", *json, "same as -o json");
  cmd->add_flag(
      "--no-repack", o->no_repack,
      "run on the weights where they are stored (no load-time repacking or copy to huge pages)");
  cmd->footer(
      "Also, as in llama-bench:\n"
      "  MODEL, -m MODEL            GGUF, Hugging Face folder or llama2.c .bin\n"
      "  -p, --n-prompt LIST        prompt tokens (default 512; 0 skips)\n"
      "  -pg PP,TG                  prompt then generation, timed together (repeatable)\n"
      "  -ctk, --cache-type-k LIST  key cache type: f16 (default), q8_0, f32\n"
      "  -ctv, --cache-type-v LIST  value cache type: f16 (default), q8_0, f32\n"
      "Lists are comma-separated or repeated flags; every combination runs.");
  cmd->callback([o, output, json, cmd] {
    BenchOptions opts = *o;
    parse_bench_extras(cmd->remaining(), opts);
    if (*json && !output->empty() && *output != "json")
      throw UsageError("--json and -o " + *output + " contradict each other");
    opts.format = *json ? BenchFormat::Json : parse_format(output->empty() ? "text" : *output);
    finish_bench_options(opts);
    std::unique_ptr<BenchPrinter> printer = make_bench_printer(opts.format, opts);
    BenchModelInfo info;
    run_bench(opts, info,
              [&](const BenchModelInfo& i, const BenchResult& r) { printer->result(i, r); });
    printer->finish();
  });
}

}  // namespace edgefit::cli
