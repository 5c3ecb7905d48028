// Kernel throughput against the machine's limits.
//
//   ReadBandwidth/threads      GB/s of a plain streaming read: the decode roofline's denominator
//   VnniPeak/threads           int8 GOPS of back-to-back 512-bit vpdpbusd (2 ops per MAC)
//   Gemv/<type>/<out>x<in>/thr weight GB/s of a one-token matmul (weights rotated over ≥ 256 MB of
//                              copies, so they come from DRAM as in real decoding)
//   GemvHot/<type>/512x2048/1  weight GB/s of the same product with the weights cache-resident: the
//                              kernel's own cost per byte, which bounds one core's decode rate
//   Decode/<type>/threads      all TinyLlama-1.1B matmuls of one token, laid out as the runtime
//                              lays them (one huge-page arena, repacked): tokens/s and GB/s
//   Gemm/<type>/<out>x<in>/thr GOPS of a 512-token matmul (prompt processing)
//   GemmPacked/…/thr/tokens    the same on repacked weights, as the runtime multiplies them (the
//                              avx512amx table's AMX gemm runs only on these), 64-512 tokens
//
// EDGEFIT_ISA selects the kernel table as in production. Run:
//   build/bench/kernels_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#if defined(__x86_64__)
// GCC 12's AVX-512 headers trip -Wuninitialized when inlined (bug 105593): header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/huge_buffer.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "quant/quant_traits.h"

namespace edgefit {
namespace {

ThreadPool& pool(int n) {
  static ThreadPool one(1), two(2);
  return n == 1 ? one : two;
}

// ---------------------------------------------------------------- memory read bandwidth

void BM_ReadBandwidth(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const size_t bytes = size_t{512} << 20;
  static HugeBuffer mem = [&] {
    HugeBuffer m(bytes);
    std::fill_n(reinterpret_cast<uint64_t*>(m.data()), bytes / 8, uint64_t{1});
    return m;
  }();
  const uint64_t* buf = reinterpret_cast<const uint64_t*>(mem.data());
  for (auto _ : state) {
    pool(threads).parallel_for(static_cast<int64_t>(bytes / 8 / 4096), 1,
                               [&](int64_t b, int64_t e) {
                                 uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                                 for (int64_t i = b * 4096; i < e * 4096; i += 4) {
                                   s0 += buf[i];
                                   s1 += buf[i + 1];
                                   s2 += buf[i + 2];
                                   s3 += buf[i + 3];
                                 }
                                 benchmark::DoNotOptimize(s0 + s1 + s2 + s3);
                               });
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes) * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ReadBandwidth)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------- int8 VNNI peak
#if defined(__x86_64__)

// 8 independent accumulator chains (latency 4 × throughput 1 would need only 4; 8 leaves slack),
// spelled out so they stay in registers at any optimization level.
__attribute__((target("avx512f,avx512vnni"))) int64_t vnni_loop(int64_t iters) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
          a7 = a0;
  const __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(5);
  for (int64_t i = 0; i < iters; ++i) {
    a0 = _mm512_dpbusd_epi32(a0, x, y);
    a1 = _mm512_dpbusd_epi32(a1, x, y);
    a2 = _mm512_dpbusd_epi32(a2, x, y);
    a3 = _mm512_dpbusd_epi32(a3, x, y);
    a4 = _mm512_dpbusd_epi32(a4, x, y);
    a5 = _mm512_dpbusd_epi32(a5, x, y);
    a6 = _mm512_dpbusd_epi32(a6, x, y);
    a7 = _mm512_dpbusd_epi32(a7, x, y);
    __asm__ volatile(""
                     : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6),
                       "+v"(a7));
  }
  const __m512i s =
      _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                       _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
  return _mm512_reduce_add_epi32(s);
}

void BM_VnniPeak(benchmark::State& state) {
  if (!kernels::isa_supported(kernels::Isa::kAvx512Vnni)) {
    state.SkipWithError("no AVX-512 VNNI");
    return;
  }
  const int threads = static_cast<int>(state.range(0));
  const int64_t iters = 1 << 20;
  for (auto _ : state) {
    pool(threads).parallel_for(threads, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) benchmark::DoNotOptimize(vnni_loop(iters));
    });
  }
  // 8 vpdpbusd × 64 MACs × 2 ops per iteration per thread.
  state.counters["GOPS"] = benchmark::Counter(
      8.0 * 64 * 2 * iters * threads * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VnniPeak)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
#endif

// ---------------------------------------------------------------- matmuls

constexpr DType kTypes[] = {DType::Q4_0,    DType::Q8_0,      DType::Q4_K,      DType::Q5_K,
                            DType::Q6_K,    DType::F16,       DType::Q2_K,      DType::Q3_K,
                            DType::Q4_1,    DType::Q5_0,      DType::Q5_1,      DType::IQ4_NL,
                            DType::Q4_2OF4, DType::Q4_MASK50, DType::Q4_MASK62, DType::Q4_QMASK62};

// edgefit's sparse types take pruned rows: the smallest magnitudes zeroed, 2 of every 4
// (Q4_2OF4), 12 of every 32 (Q4_QMASK62, as edgefit's pruning and synth keep it, so its packing
// holds every block) or all but the capacity of every 256 (Q4_MASK50: 128, Q4_MASK62: 96).
void prune_for(DType t, std::vector<float>& f) {
  const size_t unit = t == DType::Q4_2OF4 ? 4 : t == DType::Q4_QMASK62 ? 32 : 256;
  const size_t keep = t == DType::Q4_2OF4      ? 2
                      : t == DType::Q4_QMASK62 ? 12
                      : t == DType::Q4_MASK50  ? 128
                                               : 96;
  std::vector<size_t> order(unit);
  for (size_t base = 0; base + unit <= f.size(); base += unit) {
    for (size_t i = 0; i < unit; ++i) order[i] = base + i;
    std::nth_element(order.begin(), order.begin() + keep, order.end(),
                     [&](size_t a, size_t b) { return std::fabs(f[a]) > std::fabs(f[b]); });
    for (size_t i = keep; i < unit; ++i) f[order[i]] = 0.f;
  }
}

// Random weights of a type, quantized from Gaussian rows (one row pattern repeated: quantizing
// a 32000×2048 matrix row by row would take longer than the benchmark).
std::vector<uint8_t> make_weights(DType t, int64_t rows, int64_t n) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 0.05f);
  const size_t rb = quant_row_size(t, n);
  const int64_t distinct = 64;
  std::vector<uint8_t> pat(rb * distinct);
  std::vector<float> f(static_cast<size_t>(n));
  for (int64_t r = 0; r < distinct; ++r) {
    for (auto& v : f) v = nd(rng);
    if (is_sparse_dtype(t)) prune_for(t, f);
    quant_traits(t)->quantize_row(f.data(), pat.data() + r * rb, n, nullptr);
  }
  std::vector<uint8_t> w(rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(w.data() + r * rb, pat.data() + (r % distinct) * rb, rb);
  return w;
}

std::vector<float> make_x(int64_t n) {
  std::mt19937 rng(12);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = nd(rng);
  return x;
}

TensorView view(DType t, int64_t rows, int64_t n, const uint8_t* data) {
  const int64_t shape[2] = {rows, n};
  return TensorView::contiguous(t, shape, data);
}

// packed: the weights repacked at load time (kernels.h), when the selected table can read them.
void BM_Gemv(benchmark::State& state, DType t, int64_t rows, int64_t n, bool packed) {
  const int threads = static_cast<int>(state.range(0));
  std::vector<uint8_t> one = make_weights(t, rows, n);
  const kernels::KernelDispatch& kd = kernels::kernel_dispatch();
  TensorView v = view(t, rows, n, one.data());
  if (packed) {
    if (!kernels::can_repack(kd, v)) {
      state.SkipWithError("no packed kernels on this ISA");
      return;
    }
    std::vector<uint8_t> p(one.size());
    v = kernels::repack_weight(v, p.data());
    one = p;
  }
  // Enough copies that the rotation exceeds the 32 MB L3 several times over.
  const int copies = static_cast<int>(std::max<size_t>(1, (size_t{256} << 20) / one.size()));
  HugeBuffer all(one.size() * copies);  // huge pages, as the runtime's repacked weights
  for (int c = 0; c < copies; ++c) std::memcpy(all.data() + c * one.size(), one.data(), one.size());
  const std::vector<float> x = make_x(n);
  std::vector<float> y(static_cast<size_t>(rows));
  int c = 0;
  for (auto _ : state) {
    v.data = all.data() + c * one.size();
    kernels::matmul_with(kd, v, x.data(), 1, y.data(), &pool(threads));
    c = (c + 1) % copies;
  }
  state.counters["GB/s"] = benchmark::Counter(
      static_cast<double>(one.size()) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(kd.isa_name);
}

// The same product with the weights cache-resident (no rotation): what the kernel itself costs per
// byte. A format whose hot rate is below what one core streams from DRAM is compute-bound there.
// repack: as the runtime loads them (repacked where the table reads a packing); false: as stored
// (GemvHotAsStored, what repacking gains).
void BM_GemvHot(benchmark::State& state, DType t, int64_t rows, int64_t n, bool repack) {
  const int threads = static_cast<int>(state.range(0));
  std::vector<uint8_t> w = make_weights(t, rows, n);
  const kernels::KernelDispatch& kd = kernels::kernel_dispatch();
  TensorView v = view(t, rows, n, w.data());
  std::vector<uint8_t> packed(w.size());
  if (repack && kernels::can_repack(kd, v)) v = kernels::repack_weight(v, packed.data());
  const std::vector<float> x = make_x(n);
  std::vector<float> y(static_cast<size_t>(rows));
  for (auto _ : state) kernels::matmul_with(kd, v, x.data(), 1, y.data(), &pool(threads));
  state.counters["GB/s"] = benchmark::Counter(
      static_cast<double>(w.size()) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(kd.isa_name) + (v.packing != 0 ? " packed" : ""));
}

void BM_Gemm(benchmark::State& state, DType t, int64_t rows, int64_t n, bool packed) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t toks = packed ? state.range(1) : 512;
  const std::vector<uint8_t> w = make_weights(t, rows, n);
  const std::vector<float> x = make_x(n * toks);
  std::vector<float> y(static_cast<size_t>(rows * toks));
  const kernels::KernelDispatch& kd = kernels::kernel_dispatch();
  TensorView v = view(t, rows, n, w.data());
  std::vector<uint8_t> packed_bytes(packed ? w.size() : 0);
  if (packed && kernels::can_repack(kd, v)) v = kernels::repack_weight(v, packed_bytes.data());
  for (auto _ : state) kernels::matmul_with(kd, v, x.data(), toks, y.data(), &pool(threads));
  state.counters["GOPS"] = benchmark::Counter(2.0 * rows * n * toks * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
  state.SetLabel(std::string(kd.isa_name) + (v.packing != 0 ? " packed" : ""));
}

// The matmuls of one TinyLlama-1.1B token (22 layers of q,k,v,o,gate,up,down + output head).
void BM_Decode(benchmark::State& state, DType t) {
  const int threads = static_cast<int>(state.range(0));
  struct M {
    int64_t rows, n;
  };
  const M layer[] = {{2048, 2048}, {256, 2048},  {256, 2048}, {2048, 2048},
                     {5632, 2048}, {5632, 2048}, {2048, 5632}};
  // Like the runtime: every weight in one huge-page arena, repacked where the kernels can.
  std::vector<M> shapes;
  for (int l = 0; l < 22; ++l) shapes.insert(shapes.end(), std::begin(layer), std::end(layer));
  shapes.push_back({32000, 2048});
  size_t bytes = 0;
  for (const M& m : shapes) bytes += quant_row_size(t, m.n) * static_cast<size_t>(m.rows);
  HugeBuffer arena(bytes);
  std::vector<TensorView> views;
  size_t off = 0;
  for (const M& m : shapes) {
    const std::vector<uint8_t> w = make_weights(t, m.rows, m.n);
    TensorView v = view(t, m.rows, m.n, w.data());
    if (kernels::can_repack(kernels::kernel_dispatch(), v)) {
      v = kernels::repack_weight(v, arena.data() + off);
    } else {
      std::memcpy(arena.data() + off, w.data(), w.size());
      v.data = arena.data() + off;
    }
    views.push_back(v);
    off += w.size();
  }
  const std::vector<float> x = make_x(5632);
  std::vector<float> y(32000);
  const kernels::KernelDispatch& kd = kernels::kernel_dispatch();
  for (auto _ : state) {
    for (const TensorView& v : views)
      kernels::matmul_with(kd, v, x.data(), 1, y.data(), &pool(threads));
  }
  state.counters["tok/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes) * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
  state.counters["MB/token"] = static_cast<double>(bytes) / 1e6;
  state.SetLabel(kd.isa_name);
}

const int kRegistered = [] {
  const std::pair<int64_t, int64_t> shapes[] = {
      {2048, 2048}, {5632, 2048}, {2048, 5632}, {32000, 2048}};
  for (DType t : kTypes) {
    const std::string tn(dtype_name(t));
    for (auto [rows, n] : shapes) {
      const std::string s = tn + "/" + std::to_string(rows) + "x" + std::to_string(n);
      benchmark::RegisterBenchmark(("Gemv/" + s).c_str(), BM_Gemv, t, rows, n, false)
          ->Arg(1)
          ->Arg(2)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
      if (kernels::packing_for(t) != 0)
        benchmark::RegisterBenchmark(("GemvPacked/" + s).c_str(), BM_Gemv, t, rows, n, true)
            ->Arg(1)
            ->Arg(2)
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
    }
    // 512×2048: 0.6-2 MB, inside one core's 1 MB L2 for the 4-bit formats, L3 for the others.
    benchmark::RegisterBenchmark(("GemvHot/" + tn + "/512x2048").c_str(), BM_GemvHot, t, 512, 2048,
                                 true)
        ->Arg(1)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    if (kernels::packing_for(t) != 0)
      benchmark::RegisterBenchmark(("GemvHotAsStored/" + tn + "/512x2048").c_str(), BM_GemvHot, t,
                                   512, 2048, false)
          ->Arg(1)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    for (auto [rows, n] : {std::pair<int64_t, int64_t>{2048, 2048}, {5632, 2048}}) {
      const std::string s = tn + "/" + std::to_string(rows) + "x" + std::to_string(n);
      benchmark::RegisterBenchmark(("Gemm/" + s).c_str(), BM_Gemm, t, rows, n, false)
          ->Arg(1)
          ->Arg(2)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
      if (kernels::packing_for(t) != 0)
        benchmark::RegisterBenchmark(("GemmPacked/" + s).c_str(), BM_Gemm, t, rows, n, true)
            ->Args({1, 512})
            ->Args({2, 512})
            ->Args({1, 16})
            ->Args({1, 64})
            ->Args({1, 128})
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
    }
  }
  for (DType t : {DType::Q4_0, DType::Q4_K, DType::Q6_K, DType::Q8_0, DType::F16, DType::Q2_K,
                  DType::Q3_K, DType::Q4_2OF4, DType::Q4_MASK62, DType::Q4_QMASK62}) {
    benchmark::RegisterBenchmark(("Decode/" + std::string(dtype_name(t))).c_str(), BM_Decode, t)
        ->Arg(1)
        ->Arg(2)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  return 0;
}();

}  // namespace
}  // namespace edgefit

BENCHMARK_MAIN();
