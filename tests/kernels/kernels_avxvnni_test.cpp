// The AVX-VNNI table (dot_avxvnni.cpp) through its EVEX twin (avxvnni_twin.cpp): every product,
// gemv and gemm tiles, equals the scalar reference bit for bit on integer formats. On a CPU with
// AVX-VNNI itself the production table is also in simd_isas() and runs every other kernels test.
// Repacked Q4_0 / Q8_0 rows (the gemv straight from packed chunks) included.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/kernels.h"

namespace edgefit::kernels {
namespace test_twin {
const KernelDispatch& avxvnni_evex_dispatch();
}  // namespace test_twin
namespace {

using namespace test_util;

TEST(AvxVnni, TwinEqualsScalarOnEveryFormatAndTile) {
#if defined(__x86_64__)
  if (!isa_supported(Isa::kAvx512Vnni)) GTEST_SKIP() << "the twin needs AVX-512 VL + VNNI";
  const KernelDispatch& twin = test_twin::avxvnni_evex_dispatch();
  expect_entries_match_slots(twin);
  const KernelDispatch& scalar = kernel_dispatch_for(Isa::kScalar);
  ThreadPool one(1);
  std::mt19937 rng(9);
  const int64_t rows = 12;
  for (DType t : kQuantTypes) {
    for (int64_t n : {256, 768, 2048, 2048 + 256}) {  // 2304: a partial last Q4_0/Q8_0 chunk
      for (bool random_bytes : {false, true}) {
        const std::vector<uint8_t> w =
            random_bytes ? random_byte_rows(t, rows, n, rng) : quantized_rows(t, rows, n, rng);
        const int64_t shape[2] = {rows, n};
        const TensorView v = TensorView::contiguous(t, shape, w.data());
        // Repacked rows too, where the table has packed kernels (Q4_0, Q8_0).
        std::vector<uint8_t> packed(w.size());
        const bool has_packed = can_repack(twin, v);
        const TensorView pv = has_packed ? repack_weight(v, packed.data()) : v;
        for (int64_t toks : {1, 3, 70}) {
          const std::vector<float> x = random_floats(rng, toks * n);
          std::vector<float> got(static_cast<size_t>(toks * rows)), want(got.size()),
              got_packed(got.size());
          matmul_with(twin, v, x.data(), toks, got.data(), &one);
          matmul_with(scalar, v, x.data(), toks, want.data(), &one);
          matmul_with(twin, pv, x.data(), toks, got_packed.data(), &one);
          const std::string what = std::string(dtype_name(t)) + " n=" + std::to_string(n) +
                                   " tokens=" + std::to_string(toks) +
                                   (random_bytes ? " random bytes" : " quantized");
          ASSERT_EQ(got, want) << what;
          ASSERT_EQ(got_packed, want) << what << (has_packed ? ", repacked" : "");
        }
      }
    }
  }
#else
  GTEST_SKIP() << "x86-64 only";
#endif
}

}  // namespace
}  // namespace edgefit::kernels
