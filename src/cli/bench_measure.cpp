#include "cli/bench_measure.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <optional>

#include "core/error.h"
#include "core/process_memory.h"
#include "core/progress.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/attention.h"
#include "model/transformer.h"
#include "plan/cost_model.h"
#include "plan/device_profile.h"

namespace edgefit::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Prompt and depth tokens are processed in batches of this many (llama.cpp's default ubatch), so
// activation buffers stay bounded whatever -p and -d say.
constexpr int64_t kBatch = 512;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Memory this process may still allocate: MemAvailable, lowered by a cgroup v2 limit if one is
// set (containers and CI runners).
uint64_t available_memory() {
  uint64_t avail = host_available_ram();
  std::ifstream max_f("/sys/fs/cgroup/memory.max"), cur_f("/sys/fs/cgroup/memory.current");
  std::string max_s;
  uint64_t cur = 0;
  if (max_f >> max_s && max_s != "max" && cur_f >> cur) {
    const uint64_t limit = std::stoull(max_s);
    avail = std::min(avail, limit > cur ? limit - cur : 0);
  }
  return avail;
}

// The i-th token of the synthetic prompt: spread over the vocabulary (ids ≥ 3 skip the usual
// special tokens), generated on the fly so a long -p needs no token array.
int32_t prompt_token(int64_t i, int vocab) {
  uint64_t x = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull + 42;
  x = (x ^ (x >> 31)) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return static_cast<int32_t>(3 + x % static_cast<uint64_t>(std::max(1, vocab - 3)));
}

// Runs tokens [first, first + n) of the synthetic prompt in kBatch pieces; returns the logits of
// the last one when `want_logits`.
void prefill(Transformer& t, KVCache& cache, int64_t first, int64_t n, bool want_logits) {
  std::vector<int32_t> ids;
  for (int64_t done = 0; done < n; done += kBatch) {
    const int64_t len = std::min(kBatch, n - done);
    ids.resize(static_cast<size_t>(len));
    for (int64_t i = 0; i < len; ++i) ids[i] = prompt_token(first + done + i, t.vocab_size());
    const bool last = done + len == n;
    t.forward(ids, cache, want_logits && last ? len - 1 : len);
  }
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// llama.cpp's size label: "1.1B", "36M".
std::string params_label(int64_t n) {
  char buf[32];
  if (n >= 1'000'000'000)
    std::snprintf(buf, sizeof buf, "%.1fB", n / 1e9);
  else
    std::snprintf(buf, sizeof buf, "%.0fM", n / 1e6);
  return buf;
}

// The weight type holding most bytes, upper-case as llama.cpp prints file types ("Q4_0").
std::string dominant_type(const Model& m) {
  std::map<std::string, uint64_t> bytes;
  for (const auto& tn : m.tensors)
    if (tn.view.ndim == 2) bytes[std::string(dtype_name(tn.view.dtype))] += tn.view.nbytes();
  std::string best;
  uint64_t most = 0;
  for (const auto& [name, b] : bytes)
    if (b > most) best = name, most = b;
  for (char& ch : best) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return best;
}

void fill_stats(BenchResult& r) {
  std::vector<double> v = r.samples_ts;
  const double n = static_cast<double>(v.size());
  double sum = 0;
  for (double x : v) sum += x;
  r.avg_ts = sum / n;
  double sq = 0;
  for (double x : v) sq += (x - r.avg_ts) * (x - r.avg_ts);
  r.stddev_ts = v.size() > 1 ? std::sqrt(sq / (n - 1)) : 0;
  std::sort(v.begin(), v.end());
  r.median_ts = v[v.size() / 2];
  r.min_ts = v.front();
  r.max_ts = v.back();
}

struct MinMedMax {
  double median, min, max;  // of the values given
};
MinMedMax stat_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

// Refuses, before allocating, a run whose KV cache and activation buffers exceed the memory
// available, naming both and how big they are.
void check_memory(const Transformer& t, int64_t positions, KVType tk, KVType tv, int64_t batch) {
  const uint64_t kv = t.cache_bytes(positions, tk, tv);
  const uint64_t act = t.scratch_bytes(batch) + static_cast<uint64_t>(t.vocab_size()) * 4;
  const uint64_t avail = available_memory();
  if (kv + act > avail)
    throw Error("bench needs " + format_bytes(kv) + " for the KV cache (" +
                std::to_string(positions) + " positions × " + std::to_string(t.config().n_layers) +
                " layers, " + kv_type_name(tk) + " keys, " + kv_type_name(tv) + " values) and " +
                format_bytes(act) + " of activation buffers (" + std::to_string(batch) +
                "-token batches), but only " + format_bytes(avail) +
                " of memory is available; lower -p, -n, -pg or -d, or use -ctk/-ctv q8_0");
}

}  // namespace

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::string fallback;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (value.empty()) continue;
    if (key == "model name") return value;  // x86, and some ARM kernels
    if ((key == "Hardware" || key == "Model" || key == "CPU part") && fallback.empty())
      fallback = key == "CPU part" ? "ARM CPU part " + value : value;
  }
  return fallback.empty() ? "unknown CPU" : fallback;
}

void run_bench(const BenchOptions& o, BenchModelInfo& info,
               const std::function<void(const BenchModelInfo&, const BenchResult&)>& on_result) {
  const auto t_load = Clock::now();
  const Model m = load_model(o.model);
  Transformer t(m);
  info.load_s = seconds_since(t_load);
  const RepackStats repack = o.no_repack ? RepackStats{} : t.repack_weights();
  const ArchConfig& c = m.config;
  std::error_code ec;
  info.filename = o.model;
  info.file_bytes =
      std::filesystem::is_regular_file(o.model, ec) ? std::filesystem::file_size(o.model, ec) : 0;
  info.size = info.weight_bytes = m.tensor_bytes();
  info.n_params = m.n_params();
  info.type = c.architecture + " " + params_label(info.n_params) + " " + dominant_type(m);
  // Weight bytes one decode step reads: everything but the embedding table (one row of it).
  for (const auto& tn : m.tensors)
    info.bytes_per_token += tn.name == "token_embd.weight" && !c.tied_embeddings
                                ? tn.view.nbytes() / static_cast<uint64_t>(c.vocab_size)
                                : tn.view.nbytes();
  info.repack_s = repack.seconds;
  info.repacked_tensors = repack.tensors;
  info.copied_tensors = repack.copied;
  info.placed_bytes = repack.bytes;
  info.huge_page_bytes = repack.huge_page_bytes;
  info.cpu_info = cpu_model_name();
  info.kernels = kernels::kernel_dispatch().isa_name;
  info.attention_kernels = attention_table().isa_name;

  const std::vector<BenchTest> tests = bench_tests(o);
  // Tests with the same cache types and threads share one cache, sized for the largest; every
  // group's memory is checked before the first run.
  struct Group {
    size_t begin, end;  // its tests
    int64_t positions;  // cache positions the largest test needs
    int64_t batch;      // largest batch forward() sees
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < tests.size();) {
    Group gr{i, i, 1, 1};
    const BenchTest& g = tests[i];
    while (gr.end < tests.size() && tests[gr.end].type_k == g.type_k &&
           tests[gr.end].type_v == g.type_v && tests[gr.end].threads == g.threads) {
      const BenchTest& x = tests[gr.end];
      gr.positions = std::max<int64_t>(gr.positions, int64_t{x.n_depth} + x.n_prompt + x.n_gen);
      gr.batch =
          std::max<int64_t>(gr.batch, std::min<int64_t>(kBatch, std::max(x.n_prompt, x.n_depth)));
      ++gr.end;
    }
    check_memory(t, gr.positions, g.type_k, g.type_v, gr.batch);
    groups.push_back(gr);
    i = gr.end;
  }
  // One progress unit per timed repetition; depth prefills count in their repetition.
  Progress progress("bench", tests.size() * static_cast<uint64_t>(o.reps), "run");
  for (const Group& gr : groups) {
    const BenchTest& g = tests[gr.begin];
    const int64_t positions = gr.positions;
    ThreadPool::set_global_threads(g.threads);
    std::optional<KVCache> cache_slot;
    try {
      cache_slot.emplace(t.make_cache(positions, g.type_k, g.type_v));
    } catch (const std::bad_alloc&) {
      throw Error("out of memory allocating the KV cache: " +
                  format_bytes(t.cache_bytes(positions, g.type_k, g.type_v)) + " for " +
                  std::to_string(positions) + " positions");
    }
    KVCache& cache = *cache_slot;
    // Warm-up: pages the weights in and sizes the buffers.
    prefill(t, cache, 0, std::min<int64_t>(16, positions), true);
    for (size_t i = gr.begin; i < gr.end; ++i) {
      const BenchTest& bt = tests[i];
      BenchResult r;
      r.test = bt;
      r.test_time = utc_now_iso8601();
      r.kv_cache_bytes = cache.bytes();
      const uint64_t kv_per_pos = t.cache_bytes(1024, bt.type_k, bt.type_v) / 1024;
      // A generated token reads every weight once and the cache up to its position: on average
      // the depth plus half the generated tokens.
      r.bytes_per_token =
          info.bytes_per_token + kv_per_pos * static_cast<uint64_t>(bt.n_depth + bt.n_gen / 2);
      const bool tg_only = bt.n_prompt == 0;
      r.has_roofline = tg_only;
      std::vector<double> bws, fractions;
      for (int rep = 0; rep < o.reps; ++rep) {
        cache.clear();
        if (bt.n_depth > 0) prefill(t, cache, 0, bt.n_depth, false);
        const double bw_before = tg_only ? measure_read_bandwidth_gbs(bt.threads) : 0;
        reset_peak_rss();  // the probe's buffer is not the model's memory
        const auto t0 = Clock::now();
        if (bt.n_prompt > 0) prefill(t, cache, bt.n_depth, bt.n_prompt, true);
        int32_t tok = std::max(0, c.bos_id);
        for (int k = 0; k < bt.n_gen; ++k) {
          const std::vector<float> logits = t.forward(std::span<const int32_t>(&tok, 1), cache);
          tok =
              static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
          if (k == 0 && rep == 0) r.first_token_s = seconds_since(t0);
        }
        const double s = seconds_since(t0);
        r.peak_rss_bytes = std::max(r.peak_rss_bytes, peak_rss_bytes());
        r.samples_ns.push_back(s * 1e9);
        r.samples_ts.push_back((bt.n_prompt + bt.n_gen) / s);
        if (tg_only) {
          // The run is judged against the mean of the probes right before and after it: shared
          // hosts drift by 2× within minutes.
          bws.push_back(0.5 * (bw_before + measure_read_bandwidth_gbs(bt.threads)));
          fractions.push_back(r.samples_ts.back() /
                              (bws.back() * 1e9 / static_cast<double>(r.bytes_per_token)));
        }
        progress.advance();
      }
      fill_stats(r);
      if (tg_only) {
        const MinMedMax b = stat_of(bws), f = stat_of(fractions);
        r.read_bw_gbs = b.median;
        r.read_bw_gbs_min = b.min;
        r.read_bw_gbs_max = b.max;
        r.roofline_tps = b.median * 1e9 / static_cast<double>(r.bytes_per_token);
        r.roofline_fraction = f.median;
        r.roofline_fraction_min = f.min;
        r.roofline_fraction_max = f.max;
      }
      r.rss_over_file_plus_kv = static_cast<double>(r.peak_rss_bytes) /
                                static_cast<double>(info.file_bytes + r.kv_cache_bytes);
      on_result(info, r);
    }
  }
  progress.finish();
}

}  // namespace edgefit::cli
