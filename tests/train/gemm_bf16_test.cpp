// The bf16 products of the frozen weights' input gradient (train/gemm_bf16.h): the rounding and
// packing against a direct reading of the format, the scalar table against sums in double of the
// bf16-rounded inputs, the AVX-512 table (bit for bit) and the AMX one against the scalar twin, and
// linear_backward_input's bf16 path (the process's table) against its f32 path on a block-quantized
// weight.
#include "train/gemm_bf16.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "grad_check.h"
#include "kernels/amx_tiles.h"
#include "kernels/float_simd.h"
#include "quant/quant_traits.h"
#include "train/gemm_bf16_unpack.h"
#include "train/linear.h"

namespace edgefit::train {
namespace {

using test::random_vector;

// x rounded to bf16 as a float, by truncating the mantissa to 7 bits after adding half a unit
// (ties to even), written out independently of bf16_bits().
float round_bf16(float x) {
  const double mag = std::fabs(x);
  if (mag == 0) return x;
  const int e = std::ilogb(mag);
  const double ulp = std::ldexp(1.0, e - 7);
  const double q = mag / ulp, fl = std::floor(q);
  double r = q - fl > 0.5 ? fl + 1 : q - fl < 0.5 ? fl : (std::fmod(fl, 2.0) == 0 ? fl : fl + 1);
  return static_cast<float>(std::copysign(r * ulp, x));
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

TEST(Bf16Gemm, RoundsToNearestEven) {
  std::mt19937 rng(1);
  for (float x : random_vector(2000, rng)) EXPECT_EQ(from_bits(bf16_bits(x)), round_bf16(x)) << x;
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
  EXPECT_EQ(from_bits(bf16_bits(1.0f + 0x1p-8f)), 1.0f);
  EXPECT_EQ(from_bits(bf16_bits(1.0f + 3 * 0x1p-8f)), 1.0f + 0x1p-6f);
}

// C = A · B from the scalar table against a double sum of the rounded inputs, odd sizes in
// every dimension (a zero pad in k, column and row tails).
TEST(Bf16Gemm, ScalarTableMatchesRoundedProducts) {
  std::mt19937 rng(2);
  const int64_t m = 13, k = 37, n = 45, kp = (k + 1) / 2;
  const auto a = random_vector(m * k, rng), b = random_vector(k * n, rng),
             c0 = random_vector(m * n, rng);
  std::vector<uint32_t> ap(m * kp), bp(kp * n);
  pack_bf16_rows(a.data(), m, k, k, ap.data());
  const Bf16GemmTable& t = bf16_gemm_table_scalar();
  t.pack_b(b.data(), k, n, n, bp.data());
  std::vector<float> c = c0;
  t.nn(m, n, kp, ap.data(), kp, bp.data(), n, c.data(), n, true);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = c0[i * n + j];
      for (int64_t p = 0; p < k; ++p)
        s += double{round_bf16(a[i * k + p])} * round_bf16(b[p * n + j]);
      ASSERT_NEAR(c[i * n + j], s, 1e-5) << i << " " << j;
    }
}

// A fast table against the scalar twin: the same packed bits, outputs bit for bit (`exact`: the
// twin's float order) or within float-order tolerance. Shapes cover whole AMX blocks, every kind
// of leftover (rows, columns, k pairs) and a weight tile of linear_backward_input's length.
void expect_equals_twin(const Bf16GemmTable& fast, bool exact) {
  std::mt19937 rng(3);
  const Bf16GemmTable& twin = bf16_gemm_table_scalar();
  for (const auto& [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{8, 64, 32},
                                {32, 64, 64},
                                {21, 63, 70},
                                {37, 70, 53},
                                {48, 64, 48},
                                {19, 256, 96}}) {
    // A's rows are packed 3 pairs wider than the product reads (a slice of a wider dy, as
    // linear_backward_input passes it); its odd-k zero pad is the scalar test's above.
    const int64_t kp = (k + 1) / 2, lda = kp + 3;
    const auto a = random_vector(m * 2 * lda, rng), b = random_vector(k * (n + 3), rng),
               c0 = random_vector(m * (n + 5), rng);
    std::vector<uint32_t> ap(m * lda), bp_fast(kp * n), bp_twin(kp * n);
    pack_bf16_rows(a.data(), m, 2 * lda, 2 * lda, ap.data());
    fast.pack_b(b.data(), k, n, n + 3, bp_fast.data());  // a row stride wider than n
    twin.pack_b(b.data(), k, n, n + 3, bp_twin.data());
    ASSERT_EQ(bp_fast, bp_twin);  // the same bits: packing rounds with integer arithmetic
    for (bool accumulate : {false, true}) {
      std::vector<float> c_fast = c0, c_twin = c0;
      fast.nn(m, n, kp, ap.data(), lda, bp_fast.data(), n, c_fast.data(), n + 5, accumulate);
      twin.nn(m, n, kp, ap.data(), lda, bp_twin.data(), n, c_twin.data(), n + 5, accumulate);
      for (size_t i = 0; i < c0.size(); ++i) {
        if (exact) {
          ASSERT_EQ(c_fast[i], c_twin[i])
              << fast.isa << " " << m << "x" << k << "x" << n << " at " << i;
        }
        ASSERT_NEAR(c_fast[i], c_twin[i], 1e-5f * (1 + std::fabs(c_twin[i])))
            << fast.isa << " " << m << "x" << k << "x" << n << " at " << i;
      }
    }
  }
}

// The AVX-512 table multiplies the widened bf16 inputs with FMAs in the twin's order (exact
// products), so it needs AVX-512 only and gives the twin's bits.
TEST(Bf16Gemm, Avx512TableEqualsScalarTwin) {
  if (kernels::float_simd() != kernels::FloatSimd::kAvx512) GTEST_SKIP() << "no AVX-512 here";
  expect_equals_twin(bf16_gemm_table_avx512(), true);
}

TEST(Bf16Gemm, AmxTableEqualsScalarTwin) {
  if (!cpu_features().avx512_bf16 || !kernels::amx_support().bf16)
    GTEST_SKIP() << "no AMX-BF16 for this process: " << kernels::amx_support().reason;
  expect_equals_twin(bf16_gemm_table_amx(), false);
}

// The default choice: bf16 for block-quantized frozen weights where the CPU has it, f32 for
// float weights (whose forward is exact).
TEST(Bf16Gemm, DefaultProductsByWeightType) {
  if (std::getenv("EDGEFIT_TRAIN_BF16")) GTEST_SKIP() << "EDGEFIT_TRAIN_BF16 is set";
  const bool fast = std::string(bf16_gemm_table().isa) != "scalar";
  EXPECT_EQ(train_products(DType::Q4_0) == TrainProducts::kBf16, fast);
  EXPECT_EQ(train_products(DType::Q2_K) == TrainProducts::kBf16, fast);
  EXPECT_EQ(train_products(DType::F32), TrainProducts::kF32);
  EXPECT_EQ(train_products(DType::F16), TrainProducts::kF32);
}

// Keeps 2 of every 4 (group 4) or 3 of every 8 (group 8) weights at random positions, zeroing
// the rest, so the sparse formats (2:4, ≥ 50 %, ≥ 62.5 % pruned) can store them.
void prune_randomly(std::vector<float>& w, int group, std::mt19937& rng) {
  const int keep = group == 4 ? 2 : 3;
  std::vector<int> pos(static_cast<size_t>(group));
  for (size_t g = 0; g + group <= w.size(); g += group) {
    for (int i = 0; i < group; ++i) pos[i] = i;
    std::shuffle(pos.begin(), pos.end(), rng);
    for (int i = keep; i < group; ++i) w[g + pos[i]] = 0.0f;
  }
}

// The fused dequantize → bf16 pairs packing of every block-quantized type the frozen weights
// come in gives the bits of dequantize_row then pack_b (an odd row count; a column slice that
// starts one block into the row), and its f32 rows the bits of dequantize_row.
TEST(Bf16Gemm, FusedPackingEqualsDequantizeThenPack) {
  if (!cpu_features().avx512_bf16) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  for (const DType type :
       {DType::Q4_0, DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K,
        DType::Q4_2OF4, DType::Q4_MASK50, DType::Q4_MASK62}) {
    SCOPED_TRACE(dtype_name(type));
    std::mt19937 rng(7);
    const QuantTraits* q = quant_traits(type);
    const int64_t blk = q->block_size, k = 7, n_in = 3 * blk, col0 = blk, cols = 2 * blk;
    auto w = random_vector(k * n_in, rng);
    if (is_sparse_dtype(type)) prune_randomly(w, type == DType::Q4_MASK62 ? 8 : 4, rng);
    const size_t row_bytes = quant_row_size(type, n_in);
    std::vector<uint8_t> packed(k * row_bytes);
    std::vector<float> deq(k * cols);
    for (int64_t r = 0; r < k; ++r) {
      q->quantize_row(w.data() + r * n_in, packed.data() + r * row_bytes, n_in, nullptr);
      q->dequantize_row(packed.data() + r * row_bytes + col0 / blk * q->type_size,
                        deq.data() + r * cols, cols);
    }
    const int64_t kp = (k + 1) / 2;
    std::vector<uint32_t> fused(kp * cols), twin(kp * cols);
    const PackBQuantFn pack = bf16_gemm_table_avx512().pack_b_quant(type);
    ASSERT_NE(pack, nullptr);
    pack(packed.data() + col0 / blk * q->type_size, static_cast<int64_t>(row_bytes), k, cols,
         fused.data());
    bf16_gemm_table_scalar().pack_b(deq.data(), k, cols, cols, twin.data());
    EXPECT_EQ(fused, twin);
    // The same dequantizers as f32 rows (the f32 products' tiles): dequantize_row's bits.
    std::vector<float> rows(k * cols);
    const DequantRowsFn dequant = dequantize_rows_avx512(type);
    ASSERT_NE(dequant, nullptr);
    dequant(packed.data() + col0 / blk * q->type_size, static_cast<int64_t>(row_bytes), k, cols,
            rows.data());
    EXPECT_EQ(0, std::memcmp(rows.data(), deq.data(), rows.size() * sizeof(float)));
  }
  EXPECT_EQ(bf16_gemm_table_scalar().pack_b_quant(DType::Q4_0), nullptr);
  // A corrupt sparse block (a 2:4 nibble with p0 = p1) is the scalar decoder's Error, not bits.
  std::vector<uint8_t> corrupt(quant_row_size(DType::Q4_2OF4, 256), 0);
  std::vector<float> out(256);
  EXPECT_THROW(dequantize_rows_avx512(DType::Q4_2OF4)(corrupt.data(), 0, 1, 256, out.data()),
               Error);
}

// The bf16 input gradient through a Q4_0 weight against the f32 one: both inputs rounded to 8
// significant bits give a relative error of about 2^-9 per product, so the tile sums (random
// signs) stay within 1 % of the f32 result's norm; bits do not depend on the thread count.
TEST(Bf16Gemm, InputGradientNearF32Path) {
  if (!cpu_features().avx512_bf16) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  std::mt19937 rng(4);
  const int64_t n = 150, n_out = 70, n_in = 288;
  const auto w = random_vector(n_out * n_in, rng), dy = random_vector(n * n_out, rng);
  const QuantTraits* q = quant_traits(DType::Q4_0);
  const size_t row_bytes = quant_row_size(DType::Q4_0, n_in);
  std::vector<uint8_t> packed(static_cast<size_t>(n_out) * row_bytes);
  for (int64_t o = 0; o < n_out; ++o)
    q->quantize_row(w.data() + o * n_in, packed.data() + o * row_bytes, n_in, nullptr);
  const int64_t shape[2] = {n_out, n_in};
  const TensorView view = TensorView::contiguous(DType::Q4_0, shape, packed.data());
  std::vector<float> ref(n * n_in), got(ref.size()), got1(ref.size());
  linear_backward_input(view, dy.data(), n, ref.data(), false, TrainProducts::kF32);
  ThreadPool::set_global_threads(2);
  linear_backward_input(view, dy.data(), n, got.data(), false, TrainProducts::kBf16);
  ThreadPool::set_global_threads(1);
  linear_backward_input(view, dy.data(), n, got1.data(), false, TrainProducts::kBf16);
  ThreadPool::set_global_threads(0);
  EXPECT_EQ(got, got1);
  double diff = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    diff += (double{got[i]} - ref[i]) * (double{got[i]} - ref[i]);
    norm += double{ref[i]} * ref[i];
  }
  EXPECT_LT(std::sqrt(diff / norm), 1e-2);
  EXPECT_GT(std::sqrt(diff / norm), 0.0);  // the bf16 path was taken
}

}  // namespace
}  // namespace edgefit::train
