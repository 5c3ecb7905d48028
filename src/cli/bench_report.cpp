#include "cli/bench_report.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plan/cost_model.h"

#ifndef EDGEFIT_COMMIT
#define EDGEFIT_COMMIT "unknown"
#endif

namespace edgefit::cli {
namespace {

using Json = nlohmann::ordered_json;

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double sq = 0;
  for (double x : v) sq += (x - m) * (x - m);
  return std::sqrt(sq / static_cast<double>(v.size() - 1));
}

// One test as a flat record: llama-bench's fields first, in its order, then ours. Roofline fields
// are null for tests that are not generation-only (so every record has the same keys: CSV).
Json record(const BenchModelInfo& info, const BenchResult& r) {
  const BenchTest& t = r.test;
  Json j;
  j["build_commit"] = EDGEFIT_COMMIT;
  j["build_number"] = 0;
  j["cpu_info"] = info.cpu_info;
  j["gpu_info"] = "";
  j["backends"] = "CPU";
  j["model_filename"] = info.filename;
  j["model_type"] = info.type;
  j["model_size"] = info.size;
  j["model_n_params"] = info.n_params;
  j["n_batch"] = 512;
  j["n_ubatch"] = 512;
  j["n_threads"] = t.threads;
  j["type_k"] = kv_type_name(t.type_k);
  j["type_v"] = kv_type_name(t.type_v);
  j["n_gpu_layers"] = 0;
  j["use_mmap"] = true;
  j["n_prompt"] = t.n_prompt;
  j["n_gen"] = t.n_gen;
  j["n_depth"] = t.n_depth;
  j["test_time"] = r.test_time;
  j["avg_ns"] = static_cast<uint64_t>(mean(r.samples_ns));
  j["stddev_ns"] = static_cast<uint64_t>(stddev(r.samples_ns));
  j["avg_ts"] = r.avg_ts;
  j["stddev_ts"] = r.stddev_ts;
  Json ns = Json::array();
  for (double x : r.samples_ns) ns.push_back(static_cast<uint64_t>(x));
  j["samples_ns"] = ns;
  j["samples_ts"] = r.samples_ts;
  // Ours.
  j["test"] = bench_test_name(t);
  j["kernels"] = info.kernels;
  j["attention_kernels"] = info.attention_kernels;
  j["median_ts"] = r.median_ts;
  j["min_ts"] = r.min_ts;
  j["max_ts"] = r.max_ts;
  auto opt = [&](double v) { return r.has_roofline ? Json(v) : Json(nullptr); };
  j["read_bw_gbs"] = opt(r.read_bw_gbs);
  j["read_bw_gbs_min"] = opt(r.read_bw_gbs_min);
  j["read_bw_gbs_max"] = opt(r.read_bw_gbs_max);
  j["roofline_tps"] = opt(r.roofline_tps);
  j["roofline_fraction"] = opt(r.roofline_fraction);
  j["roofline_fraction_min"] = opt(r.roofline_fraction_min);
  j["roofline_fraction_max"] = opt(r.roofline_fraction_max);
  j["bytes_per_token"] = r.bytes_per_token;
  j["peak_rss_bytes"] = r.peak_rss_bytes;
  j["kv_cache_bytes"] = r.kv_cache_bytes;
  j["file_bytes"] = info.file_bytes;
  j["rss_over_file_plus_kv"] = r.rss_over_file_plus_kv;
  j["first_token_s"] = t.n_gen > 0 ? Json(r.first_token_s) : Json(nullptr);
  j["load_s"] = info.load_s;
  j["repack_s"] = info.repack_s;
  j["repacked_tensors"] = info.repacked_tensors;
  j["copied_tensors"] = info.copied_tensors;
  j["placed_bytes"] = info.placed_bytes;
  j["huge_page_bytes"] = info.huge_page_bytes;
  j["weight_bytes"] = info.weight_bytes;
  return j;
}

// JSON: one array of records, printed at the end (llama-bench's shape).
class JsonPrinter : public BenchPrinter {
 public:
  void result(const BenchModelInfo& info, const BenchResult& r) override {
    all_.push_back(record(info, r));
  }
  void finish() override { std::printf("%s\n", all_.dump(2).c_str()); }

 private:
  Json all_ = Json::array();  // every record so far
};

// JSONL: one record per line, as each test finishes.
class JsonlPrinter : public BenchPrinter {
 public:
  void result(const BenchModelInfo& info, const BenchResult& r) override {
    std::printf("%s\n", record(info, r).dump().c_str());
    std::fflush(stdout);
  }
  void finish() override {}
};

// CSV: a header of every field but the sample arrays, then one quoted row per test (llama-bench
// quotes every value).
class CsvPrinter : public BenchPrinter {
 public:
  void result(const BenchModelInfo& info, const BenchResult& r) override {
    const Json j = record(info, r);
    if (!header_done_) {
      std::string h;
      for (const auto& [k, v] : j.items())
        if (!v.is_array()) h += (h.empty() ? "" : ",") + k;
      std::printf("%s\n", h.c_str());
      header_done_ = true;
    }
    std::string line;
    bool first = true;
    for (const auto& [k, v] : j.items()) {
      if (v.is_array()) continue;
      std::string s = v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
      std::string q = "\"";
      for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      line += (first ? "" : ",") + q + "\"";
      first = false;
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  void finish() override {}

 private:
  bool header_done_ = false;  // header printed
};

// Markdown: llama-bench's table (model | size | params | backend | threads | [type_k | type_v] |
// test | t/s) with our median, roofline fraction and peak RSS after it, and a footer naming the
// build, the CPU and the kernel tables.
class MarkdownPrinter : public BenchPrinter {
 public:
  explicit MarkdownPrinter(const BenchOptions& o)
      : show_types_(o.type_k.size() > 1 || o.type_k[0] != KVType::F16 || o.type_v.size() > 1 ||
                    o.type_v[0] != KVType::F16) {}

  void result(const BenchModelInfo& info, const BenchResult& r) override {
    if (!header_done_) header();
    info_ = info;
    char size[32], params[32], ts[64], med[32], roof[48], rss[32];
    const double mib = static_cast<double>(info.size) / 1024 / 1024;
    if (mib < 1024)
      std::snprintf(size, sizeof size, "%.2f MiB", mib);
    else
      std::snprintf(size, sizeof size, "%.2f GiB", mib / 1024);
    if (info.n_params < 1'000'000'000)
      std::snprintf(params, sizeof params, "%.2f M", info.n_params / 1e6);
    else
      std::snprintf(params, sizeof params, "%.2f B", info.n_params / 1e9);
    std::snprintf(ts, sizeof ts, "%.2f ± %.2f", r.avg_ts, r.stddev_ts);
    std::snprintf(med, sizeof med, "%.2f", r.median_ts);
    if (r.has_roofline)
      std::snprintf(roof, sizeof roof, "%.0f %% [%.0f–%.0f]", 100 * r.roofline_fraction,
                    100 * r.roofline_fraction_min, 100 * r.roofline_fraction_max);
    else
      std::snprintf(roof, sizeof roof, "–");
    std::snprintf(rss, sizeof rss, "%s", format_bytes(r.peak_rss_bytes).c_str());
    std::printf("| %-30s | %10s | %10s | %-10s | %7d |", info.type.c_str(), size, params, "CPU",
                r.test.threads);
    if (show_types_)
      std::printf(" %-6s | %-6s |", kv_type_name(r.test.type_k), kv_type_name(r.test.type_v));
    // "±" and "–" are two bytes in UTF-8: one more column of padding keeps the bars aligned.
    std::printf(" %13s | %21s | %10s | %*s | %10s |\n", bench_test_name(r.test).c_str(), ts, med,
                20, roof, rss);
    std::fflush(stdout);
  }

  void finish() override {
    std::printf("\nbuild: %s (0) · CPU: %s · kernels: %s, attention %s\n", EDGEFIT_COMMIT,
                info_.cpu_info.c_str(), info_.kernels.c_str(), info_.attention_kernels.c_str());
  }

 private:
  void header() {
    std::printf("| %-30s | %10s | %10s | %-10s | %7s |", "model", "size", "params", "backend",
                "threads");
    if (show_types_) std::printf(" %-6s | %-6s |", "type_k", "type_v");
    std::printf(" %13s | %20s | %10s | %18s | %10s |\n", "test", "t/s", "median t/s", "tg roofline",
                "peak RSS");
    std::printf("| %s | %s: | %s: | %s | %s: |", std::string(30, '-').c_str(),
                std::string(9, '-').c_str(), std::string(9, '-').c_str(),
                std::string(10, '-').c_str(), std::string(6, '-').c_str());
    if (show_types_) std::printf(" ------ | ------ |");
    std::printf(" %s: | %s: | %s: | %s: | %s: |\n", std::string(12, '-').c_str(),
                std::string(19, '-').c_str(), std::string(9, '-').c_str(),
                std::string(17, '-').c_str(), std::string(9, '-').c_str());
    header_done_ = true;
  }

  bool show_types_;           // cache types differ from llama-bench's default (f16): show them
  bool header_done_ = false;  // header printed
  BenchModelInfo info_;       // the model's fields, for the footer
};

// Ours: a header line about the model and the kernels, one line per test.
class TextPrinter : public BenchPrinter {
 public:
  void result(const BenchModelInfo& info, const BenchResult& r) override {
    if (!header_done_) {
      std::printf(
          "%s: %s, %.2f M params, %s of weights, %s per decoded token; CPU %s; kernels %s, "
          "attention %s; loaded in %.3f s, %d tensors repacked and %d copied as stored (%s, %s on "
          "huge pages) in %.3f s\n",
          info.filename.c_str(), info.type.c_str(), info.n_params / 1e6,
          format_bytes(info.weight_bytes).c_str(), format_bytes(info.bytes_per_token).c_str(),
          info.cpu_info.c_str(), info.kernels.c_str(), info.attention_kernels.c_str(), info.load_s,
          info.repacked_tensors, info.copied_tensors, format_bytes(info.placed_bytes).c_str(),
          format_bytes(info.huge_page_bytes).c_str(), info.repack_s);
      header_done_ = true;
    }
    const BenchTest& t = r.test;
    std::printf("threads %d, KV %s/%s: %-14s %9.2f tok/s [%.2f–%.2f] (mean %.2f ± %.2f)", t.threads,
                kv_type_name(t.type_k), kv_type_name(t.type_v), bench_test_name(t).c_str(),
                r.median_ts, r.min_ts, r.max_ts, r.avg_ts, r.stddev_ts);
    if (r.has_roofline)
      std::printf(" | read %.1f GB/s [%.1f–%.1f] → roofline %.2f tok/s, at %.0f %% [%.0f–%.0f]",
                  r.read_bw_gbs, r.read_bw_gbs_min, r.read_bw_gbs_max, r.roofline_tps,
                  100 * r.roofline_fraction, 100 * r.roofline_fraction_min,
                  100 * r.roofline_fraction_max);
    std::printf(" | peak RSS %s = %.2f × (file + KV %s)", format_bytes(r.peak_rss_bytes).c_str(),
                r.rss_over_file_plus_kv, format_bytes(r.kv_cache_bytes).c_str());
    if (t.n_gen > 0) std::printf(" | first token %.3f s", r.first_token_s);
    std::printf("\n");
    std::fflush(stdout);
  }
  void finish() override {}

 private:
  bool header_done_ = false;  // model line printed
};

}  // namespace

std::unique_ptr<BenchPrinter> make_bench_printer(BenchFormat format, const BenchOptions& o) {
  switch (format) {
    case BenchFormat::Json:
      return std::make_unique<JsonPrinter>();
    case BenchFormat::Jsonl:
      return std::make_unique<JsonlPrinter>();
    case BenchFormat::Csv:
      return std::make_unique<CsvPrinter>();
    case BenchFormat::Markdown:
      return std::make_unique<MarkdownPrinter>(o);
    case BenchFormat::Text:
      break;
  }
  return std::make_unique<TextPrinter>();
}

}  // namespace edgefit::cli
