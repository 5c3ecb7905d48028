// Weight repacking at load time (kernels.h): the packed Q4_0 layout round-trips to ggml's blocks,
// and products on packed weights are bit-identical to products on the original weights, on every
// table that has packed kernels, for gemv and gemm, 1 and 2 threads, full and partial chunks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/kernels.h"

namespace edgefit::kernels {
namespace {

using namespace test_util;

TensorView view_of(const std::vector<uint8_t>& w, int64_t rows, int64_t n) {
  const int64_t shape[2] = {rows, n};
  return TensorView::contiguous(DType::Q4_0, shape, w.data());
}

// 512: one full chunk; 768: a full chunk and an 8-block ggml tail; 2048: four chunks.
constexpr int64_t kWidths[] = {512, 768, 2048};

TEST(Repack, RoundTripsToTheOriginalBlocks) {
  std::mt19937 rng(11);
  for (int64_t n : kWidths) {
    const int64_t rows = 5;
    const std::vector<uint8_t> w = quantized_rows(DType::Q4_0, rows, n, rng);
    std::vector<uint8_t> packed(w.size());
    const TensorView pv = repack_weight(view_of(w, rows, n), packed.data());
    EXPECT_EQ(pv.packing, kPackingQ4_0x16);
    EXPECT_EQ(pv.nbytes(), w.size()) << "same bytes as the source";
    EXPECT_NE(packed, w) << "full chunks are regrouped";
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<quant::BlockQ4_0> back(static_cast<size_t>(n / 32));
      unpack_q4_0_x16_row(pv.row(r), n, back.data());
      EXPECT_EQ(0, std::memcmp(back.data(), view_of(w, rows, n).row(r), pv.row_bytes()))
          << "width " << n << " row " << r;
    }
  }
}

TEST(Repack, PackedProductsEqualUnpackedOnEveryTableWithPackedKernels) {
  std::mt19937 rng(12);
  ThreadPool one(1), two(2);
  int tables = 0;
  for (Isa isa : supported_isas()) {
    const KernelDispatch& kd = kernel_dispatch_for(isa);
    for (int64_t n : kWidths) {
      const int64_t rows = 37;
      const std::vector<uint8_t> w = quantized_rows(DType::Q4_0, rows, n, rng);
      const TensorView v = view_of(w, rows, n);
      if (!can_repack(kd, v)) {
        // Tables without packed kernels must refuse packed views instead of misreading them.
        EXPECT_EQ(kd.q4_0_x16.gemm, nullptr) << isa_name(isa);
        std::vector<uint8_t> packed(w.size());
        const TensorView pv = repack_weight(v, packed.data());
        std::vector<float> x(static_cast<size_t>(n), 1.0f), y(rows);
        EXPECT_THROW(matmul_with(kd, pv, x.data(), 1, y.data(), &one), Error) << isa_name(isa);
        continue;
      }
      std::vector<uint8_t> packed(w.size());
      const TensorView pv = repack_weight(v, packed.data());
      for (int64_t toks : {1, 5, 70}) {
        const std::vector<float> x = random_floats(rng, toks * n);
        std::vector<float> want(static_cast<size_t>(toks * rows)), got1(want.size(), NAN),
            got2(want.size(), NAN), scalar(want.size());
        matmul_with(kd, v, x.data(), toks, want.data(), &one);
        matmul_with(kd, pv, x.data(), toks, got1.data(), &one);
        matmul_with(kd, pv, x.data(), toks, got2.data(), &two);
        matmul_with(kernel_dispatch_for(Isa::kScalar), v, x.data(), toks, scalar.data(), &one);
        EXPECT_EQ(got1, want) << isa_name(isa) << " width " << n << " tokens " << toks;
        EXPECT_EQ(got2, want) << isa_name(isa) << " 2 threads, width " << n << " tokens " << toks;
        EXPECT_EQ(got1, scalar) << isa_name(isa) << " vs the scalar table, width " << n;
      }
    }
    if (kd.q4_0_x16.gemm) ++tables;
  }
  EXPECT_GE(tables, 1) << "the scalar table always has packed kernels";
}

TEST(Repack, OnlyQ4_0RowsOfAtLeastOneChunk) {
  std::mt19937 rng(13);
  const KernelDispatch& kd = kernel_dispatch_for(Isa::kScalar);
  const std::vector<uint8_t> narrow = quantized_rows(DType::Q4_0, 4, 256, rng);
  EXPECT_FALSE(can_repack(kd, view_of(narrow, 4, 256))) << "half a chunk: nothing to regroup";
  const std::vector<uint8_t> q8 = quantized_rows(DType::Q8_0, 4, 512, rng);
  const int64_t shape[2] = {4, 512};
  const TensorView q8v = TensorView::contiguous(DType::Q8_0, shape, q8.data());
  EXPECT_FALSE(can_repack(kd, q8v));
  std::vector<uint8_t> out(q8.size());
  EXPECT_THROW(repack_weight(q8v, out.data()), Error);
  const std::vector<uint8_t> w = quantized_rows(DType::Q4_0, 4, 512, rng);
  std::vector<uint8_t> packed(w.size());
  const TensorView pv = repack_weight(view_of(w, 4, 512), packed.data());
  EXPECT_FALSE(can_repack(kd, pv)) << "already packed";
}

}  // namespace
}  // namespace edgefit::kernels
