// Forward-pass throughput of the reference (F32) path on the polyglot model (8.9 M parameters,
// ctx 256): prefill tokens/s (one batched pass over a window) and decode tokens/s (one token at a
// time against a KV cache already holding 128 positions). Threads: EDGEFIT_THREADS or all cores.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "formats/model.h"
#include "model/transformer.h"

namespace {

using namespace edgefit;

const std::string kModel = std::string(EDGEFIT_SHARED_DIR) + "/models/polyglot/hf";

std::vector<int32_t> fake_tokens(int n) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = 1 + (i * 7919) % 8000;
  return ids;
}

void BM_Prefill(benchmark::State& state) {
  Model m = load_model(kModel);
  Transformer tf(m);
  const int n = static_cast<int>(state.range(0));
  const std::vector<int32_t> ids = fake_tokens(n);
  KVCache cache = tf.make_cache(n);
  std::vector<float> logits(static_cast<size_t>(tf.vocab_size()));
  for (auto _ : state) {
    cache.clear();
    tf.forward(ids, cache, logits.data(), n - 1);  // logits of the last token, as generation needs
    benchmark::DoNotOptimize(logits.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["threads"] = ThreadPool::global().size();
}

void BM_Decode(benchmark::State& state) {
  Model m = load_model(kModel);
  Transformer tf(m);
  const int past = static_cast<int>(state.range(0));
  const std::vector<int32_t> ids = fake_tokens(past + 1);
  KVCache cache = tf.make_cache(past + 1);
  std::vector<float> logits(static_cast<size_t>(tf.vocab_size()));
  tf.forward(std::span(ids).first(static_cast<size_t>(past)), cache, logits.data(), past);
  for (auto _ : state) {
    cache.truncate(past);
    tf.forward(std::span(ids).subspan(static_cast<size_t>(past), 1), cache, logits.data(), 0);
    benchmark::DoNotOptimize(logits.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["threads"] = ThreadPool::global().size();
}

BENCHMARK(BM_Prefill)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Decode)->Arg(128)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
