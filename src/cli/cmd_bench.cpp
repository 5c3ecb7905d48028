// `edgefit bench MODEL [-p 512] [-n 128] [-t 1,2] [-r 5] [--json]`: prompt-processing and
// generation speed (median and spread of r runs), peak memory, and generation as a fraction of
// the memory-bandwidth roofline, with the machine's read bandwidth measured around each
// generation run (the fraction is the median over runs of tokens/s ÷ that run's roofline). Decode
// reads every weight once per token, so tokens/s ≤ read bandwidth ÷ weight bytes per token.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.h"
#include "core/error.h"
#include "core/process_memory.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/transformer.h"
#include "plan/cost_model.h"
#include "plan/device_profile.h"

namespace edgefit::cli {
namespace {

struct BenchOptions {
  std::string model;                  // model path
  int prompt = 512;                   // prompt tokens for pp
  int gen = 128;                      // generated tokens for tg
  std::vector<int> threads = {1, 2};  // thread counts to run
  int reps = 5;                       // repetitions (median reported)
  bool json = false;                  // JSON output
  bool no_repack = false;             // keep weights in their file layout (for comparison)
};

struct Stat {
  double median = 0, min = 0, max = 0;  // tokens/s over repetitions
};

Stat stat_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void run(const BenchOptions& o) {
  if (o.prompt < 1 || o.gen < 1 || o.reps < 1) throw UsageError("-p, -n and -r must be positive");
  const auto t_load = std::chrono::steady_clock::now();
  const Model m = load_model(o.model);
  Transformer t(m);
  const double load_s = seconds_since(t_load);
  const RepackStats repack = o.no_repack ? RepackStats{} : t.repack_weights();
  std::error_code ec;
  const uint64_t file_bytes =
      std::filesystem::is_regular_file(o.model, ec) ? std::filesystem::file_size(o.model, ec) : 0;
  const ArchConfig& c = m.config;
  // Weight bytes one decode step reads: everything but the embedding table (one row of it).
  uint64_t bytes_per_token = 0, weight_bytes = 0;
  for (const auto& tn : m.tensors) {
    weight_bytes += tn.view.nbytes();
    if (tn.name == "token_embd.weight" && !c.tied_embeddings)
      bytes_per_token += tn.view.nbytes() / static_cast<uint64_t>(c.vocab_size);
    else
      bytes_per_token += tn.view.nbytes();
  }
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> token(3, c.vocab_size - 1);
  std::vector<int32_t> prompt(static_cast<size_t>(o.prompt));
  for (auto& id : prompt) id = token(rng);

  nlohmann::ordered_json runs = nlohmann::ordered_json::array();
  if (!o.json)
    std::printf(
        "%s: %s, %.2f M params, %s of weights, %s per decoded token; kernels %s; loaded in %.3f s, "
        "%d tensors repacked and %d copied as stored (%s, %s on huge pages) in %.3f s\n",
        o.model.c_str(), c.architecture.c_str(), m.n_params() / 1e6,
        format_bytes(weight_bytes).c_str(), format_bytes(bytes_per_token).c_str(),
        kernels::kernel_dispatch().isa_name, load_s, repack.tensors, repack.copied,
        format_bytes(repack.bytes).c_str(), format_bytes(repack.huge_page_bytes).c_str(),
        repack.seconds);
  for (int th : o.threads) {
    if (th < 1) throw UsageError("thread counts must be positive");
    ThreadPool::set_global_threads(th);
    KVCache cache = t.make_cache(std::max(o.prompt, o.gen + 1));
    // Warm-up: pages the weights in and sizes every buffer.
    const size_t n_warm = std::min<size_t>(prompt.size(), 16);
    t.forward(std::span<const int32_t>(prompt.data(), n_warm), cache,
              static_cast<int64_t>(n_warm) - 1);
    std::vector<double> pp, tg, bws, fractions;
    double first_token_s = 0;
    uint64_t rss = 0;
    for (int r = 0; r < o.reps; ++r) {
      cache.clear();
      reset_peak_rss();
      auto t0 = std::chrono::steady_clock::now();
      t.forward(prompt, cache, o.prompt - 1);
      pp.push_back(o.prompt / seconds_since(t0));
      rss = std::max(rss, peak_rss_bytes());
      // The machine's read bandwidth is probed right before and right after each generation run,
      // and the run is judged against their mean: shared hosts drift by 2× within minutes, so a
      // roofline taken at another moment says more about the neighbours than about the runtime.
      const double bw_before = measure_read_bandwidth_gbs(th);
      cache.clear();
      reset_peak_rss();  // the probe's buffer is not the model's memory
      int32_t tok = std::max(0, c.bos_id);
      t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < o.gen; ++i) {
        const std::vector<float> logits = t.forward(std::span<const int32_t>(&tok, 1), cache);
        tok = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        if (i == 0 && r == 0) first_token_s = seconds_since(t0);
      }
      tg.push_back(o.gen / seconds_since(t0));
      rss = std::max(rss, peak_rss_bytes());
      bws.push_back(0.5 * (bw_before + measure_read_bandwidth_gbs(th)));
      fractions.push_back(tg.back() / (bws.back() * 1e9 / static_cast<double>(bytes_per_token)));
    }
    const Stat p = stat_of(pp), g = stat_of(tg), b = stat_of(bws), f = stat_of(fractions);
    const double bw = b.median;
    const double roofline = bw * 1e9 / static_cast<double>(bytes_per_token);
    // The memory a decode needs at least: the mapped file plus the KV cache (f32 keys and values).
    const uint64_t kv_bytes = cache.bytes();
    const double rss_ratio = static_cast<double>(rss) / static_cast<double>(file_bytes + kv_bytes);
    runs.push_back({{"threads", th},
                    {"pp_tps", p.median},
                    {"pp_tps_min", p.min},
                    {"pp_tps_max", p.max},
                    {"tg_tps", g.median},
                    {"tg_tps_min", g.min},
                    {"tg_tps_max", g.max},
                    {"read_bw_gbs", bw},
                    {"read_bw_gbs_min", b.min},
                    {"read_bw_gbs_max", b.max},
                    {"tg_roofline_tps", roofline},
                    {"tg_roofline_fraction", f.median},
                    {"tg_roofline_fraction_min", f.min},
                    {"tg_roofline_fraction_max", f.max},
                    {"peak_rss_bytes", rss},
                    {"kv_cache_bytes", kv_bytes},
                    {"rss_over_file_plus_kv", rss_ratio},
                    {"first_token_s", first_token_s}});
    if (!o.json)
      std::printf(
          "threads %d: pp%d %8.1f tok/s [%.1f–%.1f] | tg%d %7.2f tok/s [%.2f–%.2f] | read %.1f "
          "GB/s "
          "[%.1f–%.1f] → "
          "roofline %.2f tok/s, tg at %.0f %% [%.0f–%.0f] | peak RSS %s = %.2f × (file + KV %s) | "
          "first token %.3f s\n",
          th, o.prompt, p.median, p.min, p.max, o.gen, g.median, g.min, g.max, bw, b.min, b.max,
          roofline, 100 * f.median, 100 * f.min, 100 * f.max, format_bytes(rss).c_str(), rss_ratio,
          format_bytes(kv_bytes).c_str(), first_token_s);
  }
  if (o.json) {
    nlohmann::ordered_json j;
    const auto& last = runs.back();  // the headline numbers: the largest thread count
    j["model"] = o.model;
    j["kernels"] = kernels::kernel_dispatch().isa_name;
    j["load_s"] = load_s;
    j["repack_s"] = repack.seconds;
    j["repacked_tensors"] = repack.tensors;
    j["copied_tensors"] = repack.copied;
    j["placed_bytes"] = repack.bytes;
    j["huge_page_bytes"] = repack.huge_page_bytes;
    j["file_bytes"] = file_bytes;
    j["weight_bytes"] = weight_bytes;
    j["bytes_per_token"] = bytes_per_token;
    for (const char* k :
         {"pp_tps", "tg_tps", "peak_rss_bytes", "read_bw_gbs", "tg_roofline_fraction"})
      j[k] = last[k];
    j["runs"] = runs;
    std::printf("%s\n", j.dump(2).c_str());
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "prompt and generation speed against the memory-bandwidth roofline");
  cmd->add_option("model", o->model, "GGUF, Hugging Face folder or llama2.c .bin")->required();
  cmd->add_option("-p,--prompt", o->prompt, "prompt tokens (default 512)");
  cmd->add_option("-n,--gen", o->gen, "generated tokens (default 128)");
  cmd->add_option("-t,--threads", o->threads, "thread counts, e.g. 1,2 (default 1,2)")
      ->delimiter(',');
  cmd->add_option("-r,--reps", o->reps, "repetitions; the median is reported (default 5)");
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->add_flag(
      "--no-repack", o->no_repack,
      "run on the weights where they are stored (no load-time repacking or copy to huge pages)");
  cmd->callback([o] { run(*o); });
}

}  // namespace edgefit::cli
