#include "cli/bench_args.h"

#include <charconv>
#include <string_view>

#include "core/error.h"

namespace edgefit::cli {
namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

int parse_int(const std::string& flag, const std::string& s) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty())
    throw UsageError(flag + " expects whole numbers, got '" + s + "'");
  return v;
}

void add_ints(const std::string& flag, const std::string& value, std::vector<int>& to) {
  for (const std::string& part : split_commas(value)) to.push_back(parse_int(flag, part));
}

void add_types(const std::string& flag, const std::string& value, std::vector<KVType>& to) {
  for (const std::string& part : split_commas(value)) {
    try {
      to.push_back(parse_kv_type(part));
    } catch (const Error& e) {
      throw UsageError(flag + ": " + e.what());
    }
  }
}

}  // namespace

void parse_bench_extras(const std::vector<std::string>& args, BenchOptions& o) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool takes_value = a == "-p" || a == "--n-prompt" || a == "-pg" || a == "-ctk" ||
                             a == "--cache-type-k" || a == "-ctv" || a == "--cache-type-v";
    if (takes_value) {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      const std::string& v = args[++i];
      if (a == "-p" || a == "--n-prompt") {
        add_ints(a, v, o.n_prompt);
      } else if (a == "-pg") {
        const auto parts = split_commas(v);
        if (parts.size() != 2)
          throw UsageError("-pg expects PP,TG (e.g. -pg 512,128), got '" + v + "'");
        o.n_pg.emplace_back(parse_int(a, parts[0]), parse_int(a, parts[1]));
      } else if (a == "-ctk" || a == "--cache-type-k") {
        add_types(a, v, o.type_k);
      } else {
        add_types(a, v, o.type_v);
      }
    } else if (a == "-m" || a == "--model") {  // llama-bench names the model with -m
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      if (!o.model.empty())
        throw UsageError("bench takes one model, got '" + o.model + "' and '" + args[i + 1] + "'");
      o.model = args[++i];
    } else if (a.size() > 1 && a[0] == '-') {
      throw UsageError("bench: unknown option '" + a + "'");
    } else if (o.model.empty()) {
      o.model = a;
    } else {
      throw UsageError("bench takes one model, got '" + o.model + "' and '" + a + "'");
    }
  }
}

void finish_bench_options(BenchOptions& o) {
  if (o.model.empty()) throw UsageError("bench needs a MODEL (GGUF, Hugging Face folder or .bin)");
  if (o.n_prompt.empty()) o.n_prompt = {512};
  if (o.n_gen.empty()) o.n_gen = {128};
  if (o.n_depth.empty()) o.n_depth = {0};
  if (o.threads.empty()) o.threads = {1, 2};
  if (o.type_k.empty()) o.type_k = {KVType::F16};
  if (o.type_v.empty()) o.type_v = {KVType::F16};
  for (int p : o.n_prompt)
    if (p < 0) throw UsageError("-p must be 0 (skip) or positive, got " + std::to_string(p));
  for (int n : o.n_gen)
    if (n < 0) throw UsageError("-n must be 0 (skip) or positive, got " + std::to_string(n));
  for (auto [p, n] : o.n_pg)
    if (p < 0 || n < 0) throw UsageError("-pg values must not be negative");
  for (int d : o.n_depth)
    if (d < 0) throw UsageError("-d must be 0 or positive, got " + std::to_string(d));
  for (int t : o.threads)
    if (t < 1) throw UsageError("thread counts must be positive, got " + std::to_string(t));
  if (o.reps < 1) throw UsageError("-r must be positive, got " + std::to_string(o.reps));
  if (bench_tests(o).empty())
    throw UsageError(
        "nothing to run: every test is skipped (-p 0 and -n 0 without -pg); give a prompt "
        "length (-p 512), a generation length (-n 128) or -pg 512,128");
}

std::vector<BenchTest> bench_tests(const BenchOptions& o) {
  std::vector<BenchTest> tests;
  for (KVType tk : o.type_k)
    for (KVType tv : o.type_v)
      for (int th : o.threads) {
        auto add = [&](int p, int n) {
          if (p == 0 && n == 0) return;
          for (int d : o.n_depth) tests.push_back({p, n, d, th, tk, tv});
        };
        for (int p : o.n_prompt) add(p, 0);
        for (int n : o.n_gen) add(0, n);
        for (auto [p, n] : o.n_pg) add(p, n);
      }
  return tests;
}

std::string bench_test_name(const BenchTest& t) {
  std::string s;
  if (t.n_prompt > 0 && t.n_gen == 0)
    s = "pp" + std::to_string(t.n_prompt);
  else if (t.n_gen > 0 && t.n_prompt == 0)
    s = "tg" + std::to_string(t.n_gen);
  else
    s = "pp" + std::to_string(t.n_prompt) + "+tg" + std::to_string(t.n_gen);
  if (t.n_depth > 0) s += " @ d" + std::to_string(t.n_depth);
  return s;
}

}  // namespace edgefit::cli
