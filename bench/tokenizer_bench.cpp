// Tokenizer throughput on the NTREX-128 eval text (12 languages, 5964 sentences, encoded one
// sentence at a time as evaluation does), single thread, one benchmark per tokenizer type:
//   SPM (llama.cpp rules)      polyglot GGUF, and the same vocabulary from tokenizer.json (HF
//   rules) byte-level BPE (HF rules)  llama3 and qwen3 tokenizer.json byte-level BPE (llama.cpp)
//   qwen2 vocab GGUF
// Reports bytes/s (MB/s of UTF-8 input) and tokens/s; decode is measured for polyglot and qwen3.
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using edgefit::Tokenizer;

std::string shared(const std::string& rel) {
  return std::string(EDGEFIT_SHARED_DIR) + "/" + rel;
}

// tokenizer.json files are stored gzipped; unpack once under the build tree.
std::string gunzip(const std::string& gz) {
  const fs::path dir =
      fs::path(EDGEFIT_BINARY_DIR) / "bench-scratch" / fs::path(gz).parent_path().filename();
  fs::create_directories(dir);
  const fs::path out = dir / fs::path(gz).stem();
  if (fs::exists(out)) return out.string();
  gzFile in = gzopen(gz.c_str(), "rb");
  if (!in) throw std::runtime_error("cannot open " + gz);
  std::ofstream o(out, std::ios::binary);
  char buf[1 << 16];
  for (int n; (n = gzread(in, buf, sizeof(buf))) > 0;) o.write(buf, n);
  gzclose(in);
  return out.string();
}

const std::vector<std::string>& sentences() {
  static const std::vector<std::string> lines = [] {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(shared("text/ntrex128/eval")))
      if (e.path().extension() == ".txt") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<std::string> out;
    for (const auto& f : files) {
      std::ifstream in(f);
      for (std::string l; std::getline(in, l);)
        if (!l.empty()) out.push_back(l);
    }
    return out;
  }();
  return lines;
}

const Tokenizer& tokenizer(const std::string& path) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& t = cache[path];
  if (!t) t = edgefit::load_tokenizer(path);
  return *t;
}

void run_encode(benchmark::State& state, const std::string& path) {
  const Tokenizer& tok = tokenizer(path);
  const auto& lines = sentences();
  size_t bytes = 0, tokens = 0;
  for (const auto& l : lines) bytes += l.size();
  for (auto _ : state) {
    tokens = 0;
    for (const auto& l : lines) {
      auto ids = tok.encode(l, false, false);
      tokens += ids.size();
      benchmark::DoNotOptimize(ids.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(state.iterations() * tokens),
                                                  benchmark::Counter::kIsRate);
  state.counters["bytes/token"] = static_cast<double>(bytes) / static_cast<double>(tokens);
}

void run_decode(benchmark::State& state, const std::string& path) {
  const Tokenizer& tok = tokenizer(path);
  std::vector<std::vector<int32_t>> encoded;
  size_t bytes = 0, tokens = 0;
  for (const auto& l : sentences()) {
    encoded.push_back(tok.encode(l, false, false));
    bytes += l.size();
    tokens += encoded.back().size();
  }
  for (auto _ : state) {
    for (const auto& ids : encoded) {
      std::string s = tok.decode(ids);
      benchmark::DoNotOptimize(s.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(state.iterations() * tokens),
                                                  benchmark::Counter::kIsRate);
}

void BM_Encode_SPM_Polyglot_GGUF(benchmark::State& s) {
  run_encode(s, shared("models/polyglot/gguf/polyglot-f32.gguf"));
}
void BM_Encode_SPM_Polyglot_HFJson(benchmark::State& s) {
  run_encode(s, shared("models/polyglot/hf/tokenizer.json"));
}
void BM_Encode_BPE_Llama3_HFJson(benchmark::State& s) {
  run_encode(s, gunzip(shared("ref/tokenizer/hf/llama3/tokenizer.json.gz")));
}
void BM_Encode_BPE_Qwen3_HFJson(benchmark::State& s) {
  run_encode(s, gunzip(shared("ref/tokenizer/hf/qwen3/tokenizer.json.gz")));
}
void BM_Encode_BPE_Qwen2_GGUF(benchmark::State& s) {
  run_encode(s, gunzip(shared("ref/tokenizer/llamacpp_vocab/ggml-vocab-qwen2.gguf.gz")));
}
void BM_Decode_SPM_Polyglot_GGUF(benchmark::State& s) {
  run_decode(s, shared("models/polyglot/gguf/polyglot-f32.gguf"));
}
void BM_Decode_BPE_Qwen3_HFJson(benchmark::State& s) {
  run_decode(s, gunzip(shared("ref/tokenizer/hf/qwen3/tokenizer.json.gz")));
}

BENCHMARK(BM_Encode_SPM_Polyglot_GGUF)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Encode_SPM_Polyglot_HFJson)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Encode_BPE_Llama3_HFJson)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Encode_BPE_Qwen3_HFJson)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Encode_BPE_Qwen2_GGUF)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Decode_SPM_Polyglot_GGUF)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Decode_BPE_Qwen3_HFJson)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
