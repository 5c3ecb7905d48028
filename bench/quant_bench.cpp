// Single-thread throughput of every block format's row quantizer and dequantizer, in MB of f32
// (input for quantize, output for dequantize) per second, on a 4096x4096 N(0,1) matrix.
//
//   build-quant/bench/quant_bench --benchmark_filter=Q4_K
//
// Both directions call the traits table's row functions directly on the calling thread, so the
// numbers are per-core and comparable across machines with the same CPU.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "quant/quant_traits.h"

namespace {

constexpr int64_t kRows = 4096;
constexpr int64_t kCols = 4096;

const std::vector<float>& input_matrix() {
  static const std::vector<float> m = [] {
    std::vector<float> v(kRows * kCols);
    std::mt19937 rng(1234);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (float& x : v) x = dist(rng);
    return v;
  }();
  return m;
}

const std::vector<float>& importance_vector() {
  static const std::vector<float> w = [] {
    std::vector<float> v(kCols);
    std::mt19937 rng(99);
    std::uniform_real_distribution<float> dist(0.1f, 10.0f);
    for (float& x : v) x = dist(rng);
    return v;
  }();
  return w;
}

void quantize(benchmark::State& state, edgefit::DType type, bool with_importance) {
  const edgefit::QuantTraits* t = edgefit::quant_traits(type);
  const std::vector<float>& x = input_matrix();
  const float* imp = with_importance ? importance_vector().data() : nullptr;
  const size_t row_size = edgefit::quant_row_size(type, kCols);
  std::vector<uint8_t> out(row_size * kRows);
  int64_t row = 0;
  for (auto _ : state) {  // one row per iteration: a full matrix would take seconds for IQ4_NL
    t->quantize_row(x.data() + row * kCols, out.data() + row * row_size, kCols, imp);
    benchmark::DoNotOptimize(out.data());
    row = (row + 1) % kRows;
  }
  state.SetBytesProcessed(state.iterations() * kCols * static_cast<int64_t>(sizeof(float)));
}

void dequantize(benchmark::State& state, edgefit::DType type) {
  const edgefit::QuantTraits* t = edgefit::quant_traits(type);
  const std::vector<float>& x = input_matrix();
  const size_t row_size = edgefit::quant_row_size(type, kCols);
  std::vector<uint8_t> q(row_size * kRows);
  edgefit::quantize_tensor(type, x.data(), kRows, kCols, q.data(), nullptr);
  std::vector<float> out(kCols);
  int64_t row = 0;
  for (auto _ : state) {
    t->dequantize_row(q.data() + row * row_size, out.data(), kCols);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
    row = (row + 1) % kRows;
  }
  state.SetBytesProcessed(state.iterations() * kCols * static_cast<int64_t>(sizeof(float)));
}

// Register every type of the traits table except plain F32 (a memcpy).
const bool kRegistered = [] {
  for (const edgefit::QuantTraits& t : edgefit::all_quant_traits()) {
    if (t.type == edgefit::DType::F32) continue;
    const std::string name(edgefit::dtype_name(t.type));
    benchmark::RegisterBenchmark(("quantize/" + name).c_str(), quantize, t.type, false);
    if (t.uses_importance) {
      benchmark::RegisterBenchmark(("quantize_imatrix/" + name).c_str(), quantize, t.type, true);
    }
    benchmark::RegisterBenchmark(("dequantize/" + name).c_str(), dequantize, t.type);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
