// Training throughput on the polyglot model (8.9 M parameters, context 256): one optimizer step
// per iteration (forward + backward with per-block recomputation + AdamW) over a 256-token
// window, for LoRA rank 16 on every projection of the frozen f32, f16 and q2_k bases, and for
// full training; the AdamW step alone (f32 vs 8-bit moments); and LoRA r16 on `edgefit synth --like
// tinyllama-1.1b --type q4_0` (written once to the temp folder; EDGEFIT_TRAIN_BENCH_LAYERS=N keeps
// N of its 22 layers for a quick look; EDGEFIT_TRAIN_BENCH_TARGETS=q,k,v,o adapts those projections
// only, e.g. to see how the peak RSS splits between the adapters' optimizer state and the fixed
// buffers; EDGEFIT_TRAIN_BENCH_SPACING=k keeps every k-th block input, see
// TrainModel::set_block_input_spacing). AdamW keeps 8-bit moments as `edgefit recover` does by
// default; EDGEFIT_TRAIN_BENCH_OPTIM_BITS=32 for f32 ones. Reports tokens/s and the process's peak
// RSS, labelled with the quantized bases' input-gradient products ("bf16 amxbf16", "f32":
// EDGEFIT_TRAIN_BF16=0 forces f32); and that input gradient alone through a q4_0 weight
// (GFLOP/s, f32 against bf16 products). Threads: EDGEFIT_THREADS or all cores.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/process_memory.h"
#include "core/thread_pool.h"
#include "formats/model.h"
#include "methods/quantize_model.h"
#include "methods/synth_model.h"
#include "quant/quant_traits.h"
#include "train/adamw.h"
#include "train/gemm_bf16.h"
#include "train/linear.h"
#include "train/train_model.h"

namespace {

using namespace edgefit;
using namespace edgefit::train;

const std::string kDir = std::string(EDGEFIT_SHARED_DIR) + "/models/polyglot/";

std::vector<int32_t> fake_tokens(int n) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = 1 + (i * 7919) % 8000;
  return ids;
}

double peak_rss_mib() {
  return static_cast<double>(peak_rss_bytes()) / (1 << 20);
}

void run_steps(benchmark::State& state, TrainModel& tm) {
  const int n = static_cast<int>(state.range(0));
  const std::vector<int32_t> ids = fake_tokens(n);
  AdamWConfig adam;
  adam.state_bits = 8;
  if (const char* b = std::getenv("EDGEFIT_TRAIN_BENCH_OPTIM_BITS")) adam.state_bits = std::atoi(b);
  AdamW opt(adam);
  if (const char* k = std::getenv("EDGEFIT_TRAIN_BENCH_SPACING"))
    tm.set_block_input_spacing(std::atoi(k));
  for (auto _ : state) {
    tm.params().release_grads();  // as train_loop.cpp does
    benchmark::DoNotOptimize(tm.forward_backward(ids, {}, true));
    opt.step(tm.params(), 1e-4);
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["threads"] = ThreadPool::global().size();
  state.counters["peak_rss_MiB"] = peak_rss_mib();
  // Which products the quantized frozen weights' input gradient used (train/gemm_bf16.h).
  const bool bf16 = train_products(DType::Q4_0) == TrainProducts::kBf16;
  state.SetLabel(bf16 ? std::string("bf16 ") + bf16_gemm_table().isa : "f32");
}

void BM_LoraStepF32Base(benchmark::State& state) {
  Model m = load_model(kDir + "gguf/polyglot-f32.gguf");
  TrainModel tm(m, LoraConfig{});
  run_steps(state, tm);
}

void BM_LoraStepF16Base(benchmark::State& state) {
  Model m = load_model(kDir + "gguf/polyglot-f16.gguf");
  TrainModel tm(m, LoraConfig{});
  run_steps(state, tm);
}

// A file made once per process run in the temp folder (reused when it is already there).
std::string temp_model(const std::string& name) {
  return (std::filesystem::temp_directory_path() / name).string();
}

void BM_LoraStepQ2KBase(benchmark::State& state) {
  const std::string path = temp_model("edgefit-train-bench-polyglot-q2_k.gguf");
  if (!std::filesystem::exists(path)) {
    QuantizeOptions q;
    q.preset = "q2_k";
    quantize_model(kDir + "gguf/polyglot-f32.gguf", path, q);
  }
  Model m = load_model(path);
  TrainModel tm(m, LoraConfig{});
  run_steps(state, tm);
}

void BM_LoraStepSynthTinyllamaQ4_0(benchmark::State& state) {
  SynthOptions o;
  o.like = "tinyllama-1.1b";
  o.type = "q4_0";
  o.progress = false;
  if (const char* l = std::getenv("EDGEFIT_TRAIN_BENCH_LAYERS")) o.n_layers = std::atoi(l);
  const std::string path =
      temp_model("edgefit-train-bench-tinyllama-q4_0-" + std::to_string(o.n_layers) + ".gguf");
  if (!std::filesystem::exists(path)) write_synth_model(path, o);
  Model m = load_model(path);
  LoraConfig lora;
  if (const char* t = std::getenv("EDGEFIT_TRAIN_BENCH_TARGETS")) {
    lora.targets.clear();
    std::stringstream list(t);
    for (std::string name; std::getline(list, name, ',');) lora.targets.push_back(name);
  }
  TrainModel tm(m, lora);
  run_steps(state, tm);
}

void BM_FullStep(benchmark::State& state) {
  Model m = load_model(kDir + "gguf/polyglot-f32.gguf");
  TrainModel tm(m);
  run_steps(state, tm);
}

// The optimizer step alone at tinyllama's adapter size (all seven projections, r16: 12.6 M
// values), f32 against 8-bit moments (train/moments8.h): what the 8-bit state costs per step.
void BM_AdamWStep(benchmark::State& state) {
  ParameterSet ps;
  Parameter& p = ps.add("w", {12'600'000});
  for (size_t i = 0; i < p.grad.size(); ++i)
    p.grad[i] = 1e-3f * static_cast<float>((i * 7919) % 1000) - 0.5e-3f;
  AdamWConfig cfg;
  cfg.state_bits = static_cast<int>(state.range(0));
  AdamW opt(cfg);
  for (auto _ : state) opt.step(ps, 1e-4);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(p.value.size()));
}

// The frozen base's input gradient alone (train/linear.h): dx = dy · W through a q4_0 weight of
// tinyllama's q/o shape (2048 × 2048) over 256 tokens, with the f32 products (Arg 0) and the bf16
// ones (Arg 1: the process's table, as the step uses them). "GFLOPs" counts 2 · n · n_out · n_in
// per iteration, dequantization included in the time: the products' efficiency against the core's
// FMA (or vdpbf16ps / AMX) peak.
void BM_InputGradientQ4_0(benchmark::State& state) {
  const int64_t n = 256, n_out = 2048, n_in = 2048;
  const QuantTraits* q = quant_traits(DType::Q4_0);
  const size_t row_bytes = quant_row_size(DType::Q4_0, n_in);
  std::vector<uint8_t> packed(static_cast<size_t>(n_out) * row_bytes);
  std::vector<float> row(static_cast<size_t>(n_in)), dy(static_cast<size_t>(n * n_out)),
      dx(static_cast<size_t>(n * n_in));
  for (int64_t o = 0; o < n_out; ++o) {
    for (int64_t i = 0; i < n_in; ++i)
      row[static_cast<size_t>(i)] = 0.01f * static_cast<float>((o * 7919 + i * 104729) % 201 - 100);
    q->quantize_row(row.data(), packed.data() + o * row_bytes, n_in, nullptr);
  }
  for (size_t i = 0; i < dy.size(); ++i)
    dy[i] = 1e-3f * static_cast<float>((i * 7919) % 2001) - 1.0f;
  const int64_t shape[2] = {n_out, n_in};
  const TensorView w = TensorView::contiguous(DType::Q4_0, shape, packed.data());
  const bool bf16 = state.range(0) == 1;
  if (bf16 && train_products(DType::Q4_0) != TrainProducts::kBf16) {
    state.SkipWithError("no bf16 products on this CPU");
    return;
  }
  for (auto _ : state) {
    linear_backward_input(w, dy.data(), n, dx.data(), false,
                          bf16 ? TrainProducts::kBf16 : TrainProducts::kF32);
    benchmark::DoNotOptimize(dx.data());
  }
  state.counters["GFLOPs"] = benchmark::Counter(2e-9 * static_cast<double>(n * n_out * n_in),
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = ThreadPool::global().size();
  state.SetLabel(bf16 ? std::string("bf16 ") + bf16_gemm_table().isa : "f32");
}

BENCHMARK(BM_AdamWStep)->Arg(32)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_InputGradientQ4_0)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LoraStepF32Base)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LoraStepF16Base)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LoraStepQ2KBase)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LoraStepSynthTinyllamaQ4_0)
    ->Arg(256)
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_FullStep)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
