// The sparse types' kernels (dot_sparse_*.cpp): every table has them, every SIMD entry equals the
// scalar twin bit for bit (random patterns, full and empty mask blocks, odd row counts, gemv and
// gemm), and the scalar twin equals an independent computation: the dequantized weights times
// the dequantized Q8_K activations, summed in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "quant/block_formats.h"
#include "quant/q_sparse.h"
#include "quant/quant_traits.h"

namespace edgefit::kernels {
namespace {

using namespace test_util;
using quant::BlockQ8_K;

constexpr DType kSparseTypes[] = {DType::Q4_2OF4, DType::Q4_MASK50, DType::Q4_MASK62};

int capacity_of(DType t) {
  return t == DType::Q4_MASK62 ? 96 : 128;
}

// rows × n floats whose exact zeros follow type t's pattern: 2:4 (random positions, some groups
// keeping fewer than 2), or per 256-block a random count up to the capacity (0 and the capacity
// itself included) at random positions.
std::vector<float> pruned_rows(DType t, int64_t rows, int64_t n, std::mt19937& rng) {
  std::vector<float> w = random_floats(rng, rows * n, 0.05f);
  std::uniform_int_distribution<int> u4(0, 3);
  for (int64_t b = 0; b < rows * n / 256; ++b) {
    float* blk = w.data() + b * 256;
    if (t == DType::Q4_2OF4) {
      for (int g = 0; g < 64; ++g) {
        const int keep_a = u4(rng), keep_b = g % 7 == 0 ? keep_a : u4(rng);
        for (int k = 0; k < 4; ++k)
          if (k != keep_a && k != keep_b) blk[4 * g + k] = 0.f;
      }
      continue;
    }
    const int cap = capacity_of(t);
    const int keep = b % 5 == 0   ? cap
                     : b % 5 == 1 ? 0
                                  : std::uniform_int_distribution<int>(1, cap)(rng);
    std::vector<int> idx(256);
    for (int i = 0; i < 256; ++i) idx[i] = i;
    std::shuffle(idx.begin(), idx.end(), rng);
    for (int i = keep; i < 256; ++i) blk[idx[i]] = 0.f;
  }
  return w;
}

std::vector<uint8_t> sparse_rows(DType t, int64_t rows, int64_t n, std::mt19937& rng) {
  const std::vector<float> w = pruned_rows(t, rows, n, rng);
  std::vector<uint8_t> out(quant_row_size(t, n) * rows);
  quantize_tensor(t, w.data(), rows, n, out.data(), nullptr);
  return out;
}

TEST(SparseKernels, EveryTableHasThemInTheirSlots) {
  for (Isa isa : supported_isas())
    for (DType t : kSparseTypes) {
      const FormatKernels* fk = kernel_dispatch_for(isa).find(t);
      ASSERT_NE(fk, nullptr) << dtype_name(t) << " on " << isa_name(isa);
      EXPECT_EQ(fk->weight_type, t);
      EXPECT_EQ(fk->act_type, DType::Q8_K);
      EXPECT_EQ(kernel_slot_info(*kernel_slot(t)).weight_type, t);
    }
}

// The scalar twin against dequantize-then-dot in double: the integer sums are exact, so only the
// float accumulation differs.
TEST(SparseKernels, ScalarTwinEqualsDequantizedDot) {
  std::mt19937 rng(11);
  const KernelDispatch& kd = kernel_dispatch_for(Isa::kScalar);
  for (DType t : kSparseTypes) {
    const int64_t n = 2048, rows = 9;
    const auto w = sparse_rows(t, rows, n, rng);
    const auto x = random_floats(rng, n);
    std::vector<BlockQ8_K> act(n / 256);
    quantize_act_q8_k(x.data(), act.data(), n);
    std::vector<float> xq(n), wf(n);
    for (int64_t i = 0; i < n; ++i) xq[i] = act[i / 256].d * act[i / 256].qs[i % 256];
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* row = w.data() + r * quant_row_size(t, n);
      quant_traits(t)->dequantize_row(row, wf.data(), n);
      double want = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) {
        want += static_cast<double>(wf[i]) * xq[i];
        mag += std::fabs(static_cast<double>(wf[i]) * xq[i]);
      }
      const float got = kd.find(t)->vec_dot(n, row, act.data());
      EXPECT_NEAR(got, want, 1e-5 * mag + 1e-30) << dtype_name(t) << " row " << r;
    }
  }
}

TEST(SparseKernels, EveryTableEqualsScalarBitForBit) {
  std::mt19937 rng(12);
  const KernelDispatch& ref = kernel_dispatch_for(Isa::kScalar);
  for (Isa isa : simd_isas())
    for (DType t : kSparseTypes)
      for (int64_t n : {256, 768, 2048, 5632}) {
        const int64_t rows = 7, n_tok = 3;  // odd row and token counts
        const auto w = sparse_rows(t, rows, n, rng);
        const size_t rb = quant_row_size(t, n);
        const FormatKernels* fk = kernel_dispatch_for(isa).find(t);
        const FormatKernels* rk = ref.find(t);
        ASSERT_NE(fk, nullptr);
        // Each table prepares its own activations (the AVX-512 2:4 kernel reorders the quants).
        const size_t ab = fk->act_row_bytes(n), rab = rk->act_row_bytes(n);
        std::vector<uint8_t> act_buf(ab * n_tok + 64), ref_buf(rab * n_tok + 64);
        uint8_t* act = aligned64(act_buf.data());
        uint8_t* ref_act = aligned64(ref_buf.data());
        for (int64_t k = 0; k < n_tok; ++k) {
          const auto x = random_floats(rng, n);
          fk->prepare_act(x.data(), n, act + k * ab);
          rk->prepare_act(x.data(), n, ref_act + k * rab);
        }
        std::vector<float> y(rows * n_tok), y_ref(rows * n_tok);
        fk->gemm(n, w.data(), rb, rows, act, ab, n_tok, y.data(), rows);
        rk->gemm(n, w.data(), rb, rows, ref_act, rab, n_tok, y_ref.data(), rows);
        for (int64_t k = 0; k < n_tok; ++k)
          for (int64_t r = 0; r < rows; ++r) {
            const float want = y_ref[k * rows + r];
            const float dot = fk->vec_dot(n, w.data() + r * rb, act + k * ab);
            EXPECT_EQ(std::bit_cast<uint32_t>(y[k * rows + r]), std::bit_cast<uint32_t>(want))
                << isa_name(isa) << " " << dtype_name(t) << " n=" << n << " row " << r;
            EXPECT_EQ(std::bit_cast<uint32_t>(dot), std::bit_cast<uint32_t>(want));
          }
      }
}

// Through matmul_with (activation preparation, row tasks, threads) on every table: each output
// equals the scalar twin's vec_dot of that row and token bit for bit.
TEST(SparseKernels, MatmulEqualsScalarVecDotOnEveryTable) {
  std::mt19937 rng(13);
  const KernelDispatch& ref = kernel_dispatch_for(Isa::kScalar);
  for (DType t : kSparseTypes) {
    const int64_t n = 1024, rows = 37, n_tok = 2;
    const auto w = sparse_rows(t, rows, n, rng);
    const auto x = random_floats(rng, n * n_tok);
    const int64_t shape[2] = {rows, n};
    const TensorView v = TensorView::contiguous(t, shape, w.data());
    const FormatKernels* rk = ref.find(t);
    std::vector<uint8_t> act(rk->act_row_bytes(n) * n_tok);
    for (int64_t k = 0; k < n_tok; ++k)
      rk->prepare_act(x.data() + k * n, n, act.data() + k * rk->act_row_bytes(n));
    for (Isa isa : supported_isas()) {
      std::vector<float> y(rows * n_tok);
      matmul_with(kernel_dispatch_for(isa), v, x.data(), n_tok, y.data());
      for (int64_t k = 0; k < n_tok; ++k)
        for (int64_t r = 0; r < rows; ++r) {
          const float want = rk->vec_dot(n, w.data() + r * quant_row_size(t, n),
                                         act.data() + k * rk->act_row_bytes(n));
          EXPECT_EQ(std::bit_cast<uint32_t>(y[k * rows + r]), std::bit_cast<uint32_t>(want))
              << isa_name(isa) << " " << dtype_name(t) << " row " << r << " token " << k;
        }
    }
  }
}

}  // namespace
}  // namespace edgefit::kernels
