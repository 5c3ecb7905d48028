// `edgefit compress MODEL --device D -o OUTDIR [--langs DIR | --text FILE] [--calib FILE...]
// [--objective quality|size|speed] [--min-tps N] [--target-size SIZE] [--max-ppl-increase P%]`:
// baseline, plan, quantize, validate per language, choose, report (see pipeline/compress.h and
// plan/choose_recipe.h).
#include <strings.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "core/error.h"
#include "core/output_path.h"
#include "pipeline/compress.h"

namespace edgefit::cli {
namespace {

// "5%", "5", "0.5 %" → 5, 5, 0.5
double parse_percent(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  while (end && (*end == ' ' || *end == '%')) ++end;
  if (end == s.c_str() || (end && *end) || !(v > 0))
    throw UsageError("--max-ppl-increase expects a percentage like 5%, got '" + s + "'");
  return v;
}

// "4000000", "500MB", "1.5 GB", "800MiB" → bytes (KB/MB/GB decimal as storage is sold, KiB/MiB/GiB
// binary).
uint64_t parse_size(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  while (end && *end == ' ') ++end;
  static const std::pair<const char*, double> units[] = {
      {"", 1},     {"B", 1},        {"KB", 1e3},        {"MB", 1e6},
      {"GB", 1e9}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
  if (end != s.c_str() && end && std::isfinite(v) && v > 0)
    for (const auto& [name, scale] : units)
      if (strcasecmp(end, name) == 0 && v * scale < 1.8e19) return static_cast<uint64_t>(v * scale);
  throw UsageError("--target-size expects a size like 4GB, 500MB or 123456 (bytes), got '" + s +
                   "'");
}

void run(const CompressOptions& o_in, const std::string& bound, const std::string& objective,
         const std::string& target_size) {
  CompressOptions o = o_in;
  // The output folder receives GGUFs, an imatrix and a report: neither it nor any file compress
  // writes there may be an input (`compress out/q4_k_m.gguf -o out` would replace its model).
  std::vector<std::string> inputs = {o.model, o.text, o.langs_dir, o.tokenizer};
  if (o.device.ends_with(".json")) inputs.push_back(o.device);  // a profile file, not an id
  inputs.insert(inputs.end(), o.calib.begin(), o.calib.end());
  std::vector<std::string> outputs = {o.out_dir, o.out_dir + "/imatrix.gguf",
                                      o.out_dir + "/report.json", o.out_dir + "/report.html"};
  for (const auto& recipe : o.recipes.empty() ? default_recipes() : o.recipes)
    for (const char* method : {"", "-gptq"})
      outputs.push_back(o.out_dir + "/" + recipe + method + ".gguf");
  for (const auto& out : outputs) check_output_not_input(out, inputs);
  o.criteria.max_ppl_increase_pct = parse_percent(bound);
  o.criteria.objective = parse_objective(objective);
  if (!target_size.empty()) o.criteria.target_size_bytes = parse_size(target_size);
  const CompressReport r = run_compress(o);
  std::printf("\n%-8s %-8s %10s %6s %9s %10s %12s  %s\n", "recipe", "method", "file", "bpw", "PPL",
              "mean KLD", "worst ΔPPL", "");
  for (size_t i = 0; i < r.candidates.size(); ++i) {
    const auto& c = r.candidates[i];
    if (!c.built) {
      std::printf("%-8s %-8s %10s %6.2f %9s %10s %12s  %s\n", c.recipe.c_str(), c.method.c_str(),
                  format_bytes(c.cost.file_bytes).c_str(), c.cost.bits_per_weight, "-", "-", "-",
                  "not built");
      continue;
    }
    std::printf("%-8s %-8s %10s %6.2f %9.3f %10.5f %+11.2f%%  %s\n", c.recipe.c_str(),
                c.method.c_str(), format_bytes(c.cost.file_bytes).c_str(), c.cost.bits_per_weight,
                c.overall.ppl, c.overall.kld_mean, c.max_dppl_pct,
                static_cast<int>(i) == r.chosen ? "<- chosen" : "");
  }
  const auto& ch = r.candidates[static_cast<size_t>(r.chosen)];
  std::printf(
      "\nchosen: %s — %s, %.2f bits per weight, %s at run time, ~%.1f tokens/s predicted on %s\n",
      ch.file.c_str(), format_bytes(ch.cost.file_bytes).c_str(), ch.cost.bits_per_weight,
      format_bytes(ch.cost.runtime_bytes).c_str(), ch.cost.predicted_tps, r.device.id.c_str());
  std::printf("why: %s\n", r.decision.c_str());
  for (const auto& w : r.warnings) std::printf("warning: %s\n", w.c_str());
  std::printf("report: %s/report.html (and report.json)\n", o.out_dir.c_str());
}

}  // namespace

void add_compress_command(CLI::App& app) {
  auto opts = std::make_shared<CompressOptions>();
  auto bound = std::make_shared<std::string>("5%");
  auto objective = std::make_shared<std::string>("quality");
  auto target_size = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "compress", "fit a model to a device: quantize, validate per language, report");
  cmd->add_option("model", opts->model, "Hugging Face folder, GGUF or llama2.c .bin")->required();
  cmd->add_option("--device", opts->device,
                  "device id (see `edgefit devices`) or profile .json (default host)");
  cmd->add_option("-o,--out", opts->out_dir, "output folder for GGUFs and the report")->required();
  cmd->add_option(
      "--context", opts->context,
      "context the device must hold in RAM (default min(512, the model's trained context))");
  cmd->add_option(
      "--objective", *objective,
      "quality: best measured quality (default); size: smallest file; speed: fastest decode — "
      "among recipes that fit, reach --min-tps and stay within the bound");
  cmd->add_option("--min-tps", opts->criteria.min_tps,
                  "predicted decode tokens/s the device must reach (default 10; 0: any)");
  cmd->add_option("--target-size", *target_size,
                  "largest acceptable file, e.g. 4GB, 500MB, 800MiB or bytes");
  cmd->add_option("--max-ppl-increase", *bound, "quality bound per language (default 5%)");
  cmd->add_option("--calib", opts->calib, "calibration text files (importance matrix, GPTQ)");
  cmd->add_option("--methods", opts->methods,
                  "rounding methods to compare (default imatrix,gptq with --calib, rtn without)")
      ->delimiter(',');
  cmd->add_option("--langs", opts->langs_dir, "folder with one evaluation text per language");
  cmd->add_option("--text", opts->text, "a single evaluation text (instead of --langs)");
  cmd->add_option("--eval-ctx", opts->eval_ctx,
                  "evaluation window (default min(512, trained context))");
  cmd->add_option("--max-chunks", opts->max_chunks,
                  "evaluation windows per language (default all)");
  cmd->add_option("--calib-tokens", opts->calib_tokens,
                  "calibration tokens per file (default 16384)");
  cmd->add_option("--recipes", opts->recipes, "presets to consider (default q2_k … q8_0)")
      ->delimiter(',');
  cmd->add_option("--tokenizer", opts->tokenizer,
                  "tokenizer file or folder (default: the model's)");
  cmd->add_flag("--evaluate-all", opts->evaluate_all,
                "also validate what fits but misses a target, and size/speed past the first within "
                "the bound");
  cmd->callback(
      [opts, bound, objective, target_size] { run(*opts, *bound, *objective, *target_size); });
}

}  // namespace edgefit::cli
