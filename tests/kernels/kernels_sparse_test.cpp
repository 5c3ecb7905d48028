// The sparse types' kernels (dot_sparse_*.cpp): every table has them, every SIMD entry equals the
// scalar twin bit for bit (random patterns, full and empty mask blocks, odd row counts, gemv and
// gemm), and the scalar twin equals an independent computation: the dequantized weights times
// the dequantized Q8_K activations, summed in double. The packed 2:4 layout (PackedQ4_2of4Block,
// repacked at load) round-trips to the same bytes and its kernels equal the scalar twin on the
// unpacked rows bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu_features.h"
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
    std::vector<uint8_t> packed(w.size());
    for (Isa isa : supported_isas()) {
      const KernelDispatch& kd = kernel_dispatch_for(isa);
      // the weights as stored, and repacked where this table reads a packing of them
      std::vector<TensorView> views = {v};
      if (can_repack(kd, v)) views.push_back(repack_weight(v, packed.data()));
      for (const TensorView& view : views) {
        std::vector<float> y(rows * n_tok);
        matmul_with(kd, view, x.data(), n_tok, y.data());
        for (int64_t k = 0; k < n_tok; ++k)
          for (int64_t r = 0; r < rows; ++r) {
            const float want = rk->vec_dot(n, w.data() + r * quant_row_size(t, n),
                                           act.data() + k * rk->act_row_bytes(n));
            EXPECT_EQ(std::bit_cast<uint32_t>(y[k * rows + r]), std::bit_cast<uint32_t>(want))
                << isa_name(isa) << " " << dtype_name(t) << " packing " << int{view.packing}
                << " row " << r << " token " << k;
          }
      }
    }
  }
}

TensorView view_of(DType t, const std::vector<uint8_t>& w, int64_t rows, int64_t n) {
  const int64_t shape[2] = {rows, n};
  return TensorView::contiguous(t, shape, w.data());
}

TEST(SparseKernels, PackedTwoOfFourRoundTripsToTheSameBytes) {
  std::mt19937 rng(14);
  EXPECT_EQ(packing_for(DType::Q4_2OF4), kPackingQ4_2of4x1);
  EXPECT_EQ(packing_for(DType::Q4_MASK50), 0);
  for (int64_t n : {256, 768, 5632}) {
    const int64_t rows = 5;
    const auto w = sparse_rows(DType::Q4_2OF4, rows, n, rng);
    std::vector<uint8_t> packed(w.size());
    const TensorView pv = repack_weight(view_of(DType::Q4_2OF4, w, rows, n), packed.data());
    EXPECT_EQ(pv.packing, kPackingQ4_2of4x1);
    EXPECT_NE(packed, w) << "every block is regrouped";
    const size_t rb = pv.row_bytes();
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<uint8_t> back(rb);
      unpack_packed_row(pv, r, back.data());
      EXPECT_EQ(0, std::memcmp(back.data(), w.data() + r * rb, rb)) << "n=" << n << " row " << r;
    }
    // the scales come first, as in every packed chunk, and keep their values
    const auto* blk = reinterpret_cast<const PackedQ4_2of4Block*>(packed.data());
    const auto* orig = reinterpret_cast<const BlockQ4_2of4*>(w.data());
    for (int v = 0; v < 4; ++v) EXPECT_EQ(blk->d[v], orig->values[v].d);
  }
}

// Every table with packed 2:4 kernels (the scalar twin; AVX-512 with VBMI2) against the scalar
// twin on the unpacked rows, gemm and vec_dot, bit for bit.
TEST(SparseKernels, PackedTwoOfFourEqualsScalarBitForBit) {
  std::mt19937 rng(15);
  const FormatKernels* rk = kernel_dispatch_for(Isa::kScalar).find(DType::Q4_2OF4);
  int tables = 0;
  for (Isa isa : supported_isas()) {
    const KernelDispatch& kd = kernel_dispatch_for(isa);
    const FormatKernels* fk = packed_kernels(kd, kPackingQ4_2of4x1);
    if (fk == nullptr) continue;
    ++tables;
    EXPECT_EQ(fk->packing, kPackingQ4_2of4x1);
    for (int64_t n : {256, 768, 2048, 5632}) {
      const int64_t rows = 7, n_tok = 3;
      const auto w = sparse_rows(DType::Q4_2OF4, rows, n, rng);
      const TensorView v = view_of(DType::Q4_2OF4, w, rows, n);
      ASSERT_TRUE(can_repack(kd, v)) << isa_name(isa);
      std::vector<uint8_t> packed(w.size());
      repack_weight(v, packed.data());
      const size_t rb = v.row_bytes(), ab = fk->act_row_bytes(n), rab = rk->act_row_bytes(n);
      std::vector<uint8_t> act_buf(ab * n_tok + 64), ref_buf(rab * n_tok + 64);
      uint8_t* act = aligned64(act_buf.data());
      uint8_t* ref_act = aligned64(ref_buf.data());
      for (int64_t k = 0; k < n_tok; ++k) {
        const auto x = random_floats(rng, n);
        fk->prepare_act(x.data(), n, act + k * ab);
        rk->prepare_act(x.data(), n, ref_act + k * rab);
      }
      std::vector<float> y(rows * n_tok);
      fk->gemm(n, packed.data(), rb, rows, act, ab, n_tok, y.data(), rows);
      for (int64_t k = 0; k < n_tok; ++k)
        for (int64_t r = 0; r < rows; ++r) {
          const float want = rk->vec_dot(n, w.data() + r * rb, ref_act + k * rab);
          const float dot = fk->vec_dot(n, packed.data() + r * rb, act + k * ab);
          EXPECT_EQ(std::bit_cast<uint32_t>(y[k * rows + r]), std::bit_cast<uint32_t>(want))
              << isa_name(isa) << " n=" << n << " row " << r;
          EXPECT_EQ(std::bit_cast<uint32_t>(dot), std::bit_cast<uint32_t>(want));
        }
    }
  }
  EXPECT_GE(tables, 1) << "the scalar table always has the packed twin";
  const CpuFeatures& cpu = cpu_features();
  if (isa_supported(Isa::kAvx512Vnni) && cpu.avx512_vbmi && cpu.avx512_vbmi2) {
    EXPECT_NE(packed_kernels(kernel_dispatch_for(Isa::kAvx512Vnni), kPackingQ4_2of4x1), nullptr);
  }
}

}  // namespace
}  // namespace edgefit::kernels
