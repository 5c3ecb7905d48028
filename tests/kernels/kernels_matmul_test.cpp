// kernels_matmul: close to the dequantize-then-f32 product, bit-identical to the scalar table on
// every ISA, bit-identical for 1 and 2 threads, and a single token equals its row of a batch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/kernels.h"
#include "quant/quant_traits.h"

namespace edgefit::kernels {
namespace {

using namespace test_util;

struct Case {
  DType type;
  int64_t n_out, n_in;
};

// Odd row counts hit partial 4-row tiles and 16/64-row tasks; 768 leaves a half chunk; 70 tokens
// cross the 64-token block. Q8_K (a GGUF type no preset writes) has no kernels: the dequantize
// fallback.
constexpr Case kCases[] = {
    {DType::Q8_0, 37, 768},  {DType::Q4_0, 37, 768},  {DType::Q4_1, 37, 768},
    {DType::Q5_0, 37, 768},  {DType::Q5_1, 37, 768},  {DType::IQ4_NL, 37, 768},
    {DType::Q2_K, 37, 768},  {DType::Q3_K, 37, 768},  {DType::Q4_K, 37, 768},
    {DType::Q5_K, 37, 768},  {DType::Q6_K, 37, 768},  {DType::F16, 37, 100},
    {DType::BF16, 19, 96},   {DType::F32, 21, 33},    {DType::Q4_0, 130, 2048},
    {DType::Q4_K, 66, 2048}, {DType::Q2_K, 66, 2048}, {DType::Q3_K, 66, 2048},
    {DType::Q8_K, 13, 256},
};

std::vector<float> dequantized(DType t, const std::vector<uint8_t>& w, int64_t rows, int64_t n) {
  std::vector<float> f(static_cast<size_t>(rows * n));
  dequantize_tensor(t, w.data(), rows, n, f.data());
  return f;
}

void run(const KernelDispatch& kd, const Case& c, const std::vector<uint8_t>& w,
         const std::vector<float>& x, int64_t toks, std::vector<float>& y, ThreadPool* pool) {
  const int64_t shape[2] = {c.n_out, c.n_in};
  const TensorView tv = TensorView::contiguous(c.type, shape, w.data());
  y.assign(static_cast<size_t>(toks * c.n_out), NAN);
  matmul_with(kd, tv, x.data(), toks, y.data(), pool);
}

TEST(Matmul, MatchesDequantizedProductAndScalarOnEveryIsa) {
  std::mt19937 rng(7);
  ThreadPool one(1), two(2);
  for (const Case& c : kCases) {
    const std::vector<uint8_t> w = quantized_rows(c.type, c.n_out, c.n_in, rng);
    const std::vector<float> wf = dequantized(c.type, w, c.n_out, c.n_in);
    for (int64_t toks : {1, 5, 70}) {
      const std::vector<float> x = random_floats(rng, toks * c.n_in);
      std::vector<float> want;
      run(kernel_dispatch_for(Isa::kScalar), c, w, x, toks, want, &one);
      for (int64_t t = 0; t < toks; ++t) {
        // Exact math on what the kernel multiplies (dequantized weights and activations): only
        // float rounding may differ. Against the unquantized x: the Q8 activation error.
        const std::vector<float> xq = as_kernels_see(c.type, x.data() + t * c.n_in, c.n_in);
        for (int64_t o = 0; o < c.n_out; ++o) {
          double exact = 0, exact_x = 0, mag = 0;
          for (int64_t i = 0; i < c.n_in; ++i) {
            exact += double{wf[o * c.n_in + i]} * xq[i];
            exact_x += double{wf[o * c.n_in + i]} * x[t * c.n_in + i];
            mag += std::fabs(double{wf[o * c.n_in + i]} * x[t * c.n_in + i]);
          }
          ASSERT_NEAR(want[t * c.n_out + o], exact, 1e-5 * mag + 1e-6)
              << dtype_name(c.type) << " token " << t << " row " << o;
          ASSERT_NEAR(want[t * c.n_out + o], exact_x, 0.05 * mag + 1e-6)
              << dtype_name(c.type) << " token " << t << " row " << o;
        }
      }
      for (Isa isa : supported_isas()) {
        const KernelDispatch& kd = kernel_dispatch_for(isa);
        std::vector<float> y1, y2;
        run(kd, c, w, x, toks, y1, &one);
        run(kd, c, w, x, toks, y2, &two);
        for (size_t i = 0; i < y1.size(); ++i) {
          const std::string what = std::string(isa_name(isa)) + " " +
                                   std::string(dtype_name(c.type)) + " tokens " +
                                   std::to_string(toks) + " index " + std::to_string(i);
          ASSERT_EQ(y1[i], y2[i]) << "1 vs 2 threads, " << what;
          ASSERT_NEAR(y1[i], want[i], 1e-5 * std::max(1.f, std::fabs(want[i]))) << what;
          const bool is_float = c.type == DType::F16 || c.type == DType::BF16 ||
                                c.type == DType::F32 || kd.find(c.type) == nullptr;
          if (!is_float) {
            ASSERT_EQ(y1[i], want[i]) << "not bit-identical to scalar, " << what;
          }
        }
        // A token alone gives the same floats as within a batch (gemv vs gemm tiles).
        if (toks > 1) {
          const std::vector<float> x1(x.begin() + 3 * c.n_in, x.begin() + 4 * c.n_in);
          std::vector<float> y3;
          run(kd, c, w, x1, 1, y3, &two);
          for (int64_t o = 0; o < c.n_out; ++o) {
            ASSERT_EQ(y3[o], y1[3 * c.n_out + o]) << isa_name(isa) << " " << dtype_name(c.type);
          }
        }
      }
    }
  }
}

// One job over several weights of the same input (q/k/v, gate/up) must give exactly what separate
// products give: a mix of formats whose activations are prepared differently (Q4_K and Q6_K both
// read Q8_K activations, regrouped into different panels), float weights and a fallback format.
TEST(Matmul, SeveralWeightsInOneJobEqualSeparateProducts) {
  std::mt19937 rng(9);
  ThreadPool two(2);
  const int64_t n_in = 512;
  const Case parts[] = {{DType::Q4_K, 37, n_in}, {DType::Q6_K, 21, n_in}, {DType::Q8_0, 19, n_in},
                        {DType::Q4_0, 5, n_in},  {DType::F16, 9, n_in},   {DType::Q8_K, 7, n_in},
                        {DType::Q2_K, 11, n_in}, {DType::Q5_0, 6, n_in},  {DType::Q4_1, 3, n_in}};
  std::vector<std::vector<uint8_t>> w;
  std::vector<TensorView> views;
  for (const Case& c : parts) w.push_back(quantized_rows(c.type, c.n_out, c.n_in, rng));
  for (size_t i = 0; i < std::size(parts); ++i) {
    const int64_t shape[2] = {parts[i].n_out, n_in};
    views.push_back(TensorView::contiguous(parts[i].type, shape, w[i].data()));
  }
  for (int64_t toks : {1, 7}) {
    const std::vector<float> x = random_floats(rng, toks * n_in);
    for (Isa isa : supported_isas()) {
      const KernelDispatch& kd = kernel_dispatch_for(isa);
      std::vector<std::vector<float>> got(std::size(parts)), want(std::size(parts));
      std::vector<const TensorView*> ws;
      std::vector<float*> ys;
      for (size_t i = 0; i < std::size(parts); ++i) {
        got[i].assign(static_cast<size_t>(toks * parts[i].n_out), NAN);
        run(kd, parts[i], w[i], x, toks, want[i], &two);
        ws.push_back(&views[i]);
        ys.push_back(got[i].data());
      }
      matmul_multi_with(kd, ws, x.data(), toks, ys, &two);
      for (size_t i = 0; i < std::size(parts); ++i)
        EXPECT_EQ(got[i], want[i])
            << isa_name(isa) << " " << dtype_name(parts[i].type) << " tokens " << toks;
    }
  }
}

TEST(Matmul, GlobalEntryPointUsesSelectedTable) {
  std::mt19937 rng(8);
  const Case c{DType::Q4_0, 8, 512};
  const std::vector<uint8_t> w = quantized_rows(c.type, c.n_out, c.n_in, rng);
  const std::vector<float> x = random_floats(rng, 2 * c.n_in);
  std::vector<float> want;
  run(kernel_dispatch(), c, w, x, 2, want, nullptr);
  const int64_t shape[2] = {c.n_out, c.n_in};
  std::vector<float> y(2 * c.n_out);
  kernels_matmul(TensorView::contiguous(c.type, shape, w.data()), x.data(), 2, y.data());
  EXPECT_EQ(y, want);
}

}  // namespace
}  // namespace edgefit::kernels
