// Weight repacking at load time (kernels.h): every packed layout (Q4_0, Q8_0, Q4_K, Q6_K, and the
// row-interleaved F16, BF16, F32) round-trips to ggml's rows, and products on packed weights are
// bit-identical to products on the original weights, on every table that has packed kernels, for
// gemv and gemm, 1 and 2 threads, full and partial chunks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/kernels.h"

namespace edgefit::kernels {
namespace {

using namespace test_util;

// The packed formats, row widths covering one full chunk, full chunks plus a ggml tail (Q4_0,
// Q8_0: 8 blocks; Q4_K: one super-block) and several chunks, and row counts (whole groups for
// the row-interleaved floats, a ragged last task of the 16-row gemv split for the others).
struct Case {
  DType type;
  uint8_t packing;
  std::vector<int64_t> widths;
  int64_t rows;
};
const Case kCases[] = {
    {DType::Q4_0, kPackingQ4_0x16, {512, 768, 2048}, 37},
    {DType::Q8_0, kPackingQ8_0x16, {512, 768, 2048}, 37},
    {DType::Q4_K, kPackingQ4_Kx2, {512, 768, 2048}, 37},
    {DType::Q6_K, kPackingQ6_Kx1, {256, 768, 2048}, 37},  // a chunk is one block: no tails
    {DType::F16, kPackingF16x4, {16, 48, 2048}, 36},      // one run, 3 runs, many
    {DType::BF16, kPackingBF16x4, {16, 48, 2048}, 36},
    {DType::F32, kPackingF32x4, {16, 48, 2048}, 36},
};

TensorView view_of(DType t, const std::vector<uint8_t>& w, int64_t rows, int64_t n) {
  const int64_t shape[2] = {rows, n};
  return TensorView::contiguous(t, shape, w.data());
}

TEST(Repack, RoundTripsToTheOriginalBlocks) {
  std::mt19937 rng(11);
  for (const Case& c : kCases) {
    EXPECT_EQ(packing_for(c.type), c.packing);
    for (int64_t n : c.widths) {
      const int64_t rows = packing_group_rows(c.packing) == 1 ? 5 : 8;
      // Random bytes: every level, scale bit and min bit pattern, not just what a quantizer makes.
      const std::vector<uint8_t> w = random_byte_rows(c.type, rows, n, rng);
      std::vector<uint8_t> packed(w.size());
      const TensorView pv = repack_weight(view_of(c.type, w, rows, n), packed.data());
      EXPECT_EQ(pv.packing, c.packing);
      EXPECT_EQ(pv.nbytes(), w.size()) << "same bytes as the source";
      // (One run per row leaves an interleaved group as it was.)
      if (packing_group_rows(c.packing) == 1 || n > packed_chunk_weights(c.packing)) {
        EXPECT_NE(packed, w) << "full chunks are regrouped";
      }
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<uint8_t> back(pv.row_bytes());
        unpack_packed_row(pv, r, back.data());
        EXPECT_EQ(0, std::memcmp(back.data(), view_of(c.type, w, rows, n).row(r), pv.row_bytes()))
            << dtype_name(c.type) << " width " << n << " row " << r;
      }
    }
  }
}

TEST(Repack, PackedProductsEqualUnpackedOnEveryTableWithPackedKernels) {
  std::mt19937 rng(12);
  ThreadPool one(1), two(2);
  for (const Case& c : kCases) {
    int tables = 0;
    for (Isa isa : supported_isas()) {
      const KernelDispatch& kd = kernel_dispatch_for(isa);
      for (int64_t n : c.widths) {
        const int64_t rows = c.rows;
        const std::vector<uint8_t> w = random_byte_rows(c.type, rows, n, rng);
        const TensorView v = view_of(c.type, w, rows, n);
        if (!can_repack(kd, v)) {
          // Tables without packed kernels must refuse packed views instead of misreading them.
          EXPECT_EQ(packed_kernels(kd, c.packing), nullptr) << isa_name(isa);
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
          const std::string what = std::string(dtype_name(c.type)) + " " + isa_name(isa) +
                                   " width " + std::to_string(n) + " tokens " +
                                   std::to_string(toks);
          EXPECT_EQ(got1, want) << what;
          EXPECT_EQ(got2, want) << what << ", 2 threads";
          EXPECT_EQ(got1, scalar) << what << ", vs the scalar table";
        }
      }
      if (packed_kernels(kd, c.packing) != nullptr) ++tables;
    }
    EXPECT_GE(tables, 1) << "the scalar table always has packed kernels";
  }
}

TEST(Repack, OnlyPackedTypesWithRowsOfAtLeastOneChunk) {
  std::mt19937 rng(13);
  const KernelDispatch& kd = kernel_dispatch_for(Isa::kScalar);
  const std::vector<uint8_t> narrow = quantized_rows(DType::Q4_0, 4, 256, rng);
  EXPECT_FALSE(can_repack(kd, view_of(DType::Q4_0, narrow, 4, 256)))
      << "half a chunk: nothing to regroup";
  const std::vector<uint8_t> q5 = quantized_rows(DType::Q5_K, 4, 512, rng);
  const TensorView q5v = view_of(DType::Q5_K, q5, 4, 512);
  EXPECT_EQ(packing_for(DType::Q5_K), 0) << "Q5_K has no packing";
  EXPECT_FALSE(can_repack(kd, q5v));
  std::vector<uint8_t> out(q5.size());
  EXPECT_THROW(repack_weight(q5v, out.data()), Error);
  const std::vector<uint8_t> w = quantized_rows(DType::Q8_0, 4, 512, rng);
  std::vector<uint8_t> packed(w.size());
  const TensorView pv = repack_weight(view_of(DType::Q8_0, w, 4, 512), packed.data());
  EXPECT_FALSE(can_repack(kd, pv)) << "already packed";
  EXPECT_THROW(repack_weight(pv, out.data()), Error) << "already packed";
  TensorView mislabelled = pv;
  mislabelled.dtype = DType::Q4_0;  // a packing that belongs to another type: no kernels
  EXPECT_EQ(kd.find(mislabelled), nullptr);
}

TEST(Repack, InterleavedFloatsOnlyInWholeGroupsOfRuns) {
  std::mt19937 rng(14);
  const KernelDispatch& kd = kernel_dispatch_for(Isa::kScalar);
  for (auto [rows, n, why] : {std::tuple<int64_t, int64_t, const char*>{6, 64, "6 rows"},
                              {8, 40, "40 wide"},
                              {8, 8, "half a run"}}) {
    const std::vector<uint8_t> w = random_byte_rows(DType::F16, rows, n, rng);
    const TensorView v = view_of(DType::F16, w, rows, n);
    EXPECT_FALSE(can_repack(kd, v)) << why;
    std::vector<uint8_t> out(w.size());
    EXPECT_THROW(repack_weight(v, out.data()), Error) << why;
  }
  const std::vector<uint8_t> w = random_byte_rows(DType::F32, 4, 32, rng);
  EXPECT_TRUE(can_repack(kd, view_of(DType::F32, w, 4, 32)));
  // A packed view cut inside a group (3 of its 4 rows) is refused, not misread.
  std::vector<uint8_t> packed(w.size());
  repack_weight(view_of(DType::F32, w, 4, 32), packed.data());
  TensorView cut = view_of(DType::F32, packed, 3, 32);
  cut.packing = kPackingF32x4;
  std::vector<float> x(32, 1.0f), y(3);
  EXPECT_THROW(matmul_with(kd, cut, x.data(), 1, y.data()), Error);
  // A packed float view has no single-row product, only the grouped gemm.
  EXPECT_EQ(packed_kernels(kd, kPackingF32x4)->vec_dot, nullptr);
  EXPECT_NE(packed_kernels(kd, kPackingF32x4)->gemm, nullptr);
}

}  // namespace
}  // namespace edgefit::kernels
