// The avx512amx table (AMX-INT8 gemm for packed Q8_0, Q4_0, Q4_K, Q6_K; kernels/gemm_amx.cpp):
// its products on packed weights equal the scalar table's on the original weights BIT FOR BIT,
// for row counts that are not multiples of a 16-row panel, 1..300 tokens (the one-token VNNI
// path, the VNNI path below the AMX threshold — 32 tokens for Q8_0/Q4_0, 128 for Q4_K, 256 for
// Q6_K — and whole and partial 16-token tiles above it), rows with a partial last chunk in
// ggml's layout, random bytes (every level, Q8_0's -128 included), quantized Gaussian rows, and
// the ggml reference blocks of ../shared/ref/quant. Tests that need AMX say so when this CPU or
// kernel does not give it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/amx_tiles.h"
#include "kernels/kernels.h"

namespace edgefit::kernels {
namespace {

using namespace test_util;

// True when /proc/cpuinfo lists the flag (Linux); false elsewhere.
bool cpuinfo_has(const std::string& flag) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    return (line + " ").find(" " + flag + " ") != std::string::npos;
  }
  return false;
}

#define SKIP_WITHOUT_AMX()                                                       \
  if (!isa_supported(Isa::kAvx512Amx))                                           \
  GTEST_SKIP() << "no AMX-INT8 table here: "                                     \
               << (amx_support().reason.empty() ? std::string("no AVX-512 VNNI") \
                                                : amx_support().reason)

TEST(AmxSupport, AgreesWithTheCpuAndGivesAReasonWhenUnusable) {
  const AmxSupport& s = amx_support();
  EXPECT_EQ(&s, &amx_support()) << "probed once";
  EXPECT_EQ(s.int8, s.reason.empty()) << s.reason;
#if defined(__x86_64__) && defined(__linux__)
  // The CPU bits as the kernel reports them; the grant itself can only add a refusal.
  if (!cpuinfo_has("amx_int8") || !cpuinfo_has("amx_tile")) {
    EXPECT_FALSE(s.int8);
  }
  if (s.int8) {
    EXPECT_EQ(s.bf16, cpuinfo_has("amx_bf16"));
  }
#else
  EXPECT_FALSE(s.int8);
#endif
  EXPECT_EQ(isa_supported(Isa::kAvx512Amx), s.int8 && isa_supported(Isa::kAvx512Vnni));
}

TEST(AmxDispatch, NamedChosenFirstAndVnniStillSelectable) {
  EXPECT_EQ(isa_from_name("avx512amx"), Isa::kAvx512Amx);
  EXPECT_STREQ(isa_name(Isa::kAvx512Amx), "avx512amx");
  SKIP_WITHOUT_AMX();
  EXPECT_EQ(best_isa(), Isa::kAvx512Amx);
  const KernelDispatch& amx = kernel_dispatch_for(Isa::kAvx512Amx);
  const KernelDispatch& vnni = kernel_dispatch_for(Isa::kAvx512Vnni);
  EXPECT_STREQ(amx.isa_name, "avx512amx");
  EXPECT_EQ(vnni.isa, Isa::kAvx512Vnni);
  // AMX gemm (on its extended activation rows) in the four packed integer slots; every other
  // slot, the formats added since included, is the VNNI table's entry as it is; every vec_dot and
  // every entry's format, packing and activation type are the VNNI table's.
  for (int s = 0; s < kNumKernelSlots; ++s) {
    const auto slot = static_cast<KernelSlot>(s);
    const FormatKernels& a = amx.at(slot);
    const FormatKernels& v = vnni.at(slot);
    const char* name = kernel_slot_info(slot).name;
    EXPECT_EQ(a.weight_type, v.weight_type) << name;
    EXPECT_EQ(a.packing, v.packing) << name;
    EXPECT_EQ(a.act_type, v.act_type) << name;
    EXPECT_EQ(a.block_size, v.block_size) << name;
    EXPECT_EQ(a.vec_dot, v.vec_dot) << name;
    const bool amx_gemm = slot == KernelSlot::kQ8_0x16 || slot == KernelSlot::kQ4_0x16 ||
                          slot == KernelSlot::kQ4_Kx2 || slot == KernelSlot::kQ6_Kx1;
    if (amx_gemm) {
      EXPECT_NE(a.gemm, v.gemm) << name;
      EXPECT_NE(a.prepare_act, v.prepare_act) << name;
    } else {
      EXPECT_EQ(a.gemm, v.gemm) << name;
      EXPECT_EQ(a.prepare_act, v.prepare_act) << name;
      EXPECT_EQ(a.act_row_bytes, v.act_row_bytes) << name;
    }
  }
}

// The AMX activation row: the VNNI table's panel row (kernels_dot_test checks it byte for byte),
// then the quants of ggml's activation blocks in their plain order, which tile loads read.
TEST(AmxActivations, PlainQuantsFollowThePanelRow) {
  SKIP_WITHOUT_AMX();
  std::mt19937 rng(21);
  const KernelDispatch& amx = kernel_dispatch_for(Isa::kAvx512Amx);
  const KernelDispatch& vnni = kernel_dispatch_for(Isa::kAvx512Vnni);
  for (uint8_t p : {kPackingQ8_0x16, kPackingQ4_0x16, kPackingQ4_Kx2, kPackingQ6_Kx1}) {
    const FormatKernels* fk = packed_kernels(amx, p);
    for (int64_t n : {512, 768, 2048}) {
      if (n % fk->block_size != 0) continue;
      const std::vector<float> x = random_floats(rng, n);
      const size_t panel = packed_kernels(vnni, p)->act_row_bytes(n);
      std::vector<uint8_t> buf(fk->act_row_bytes(n) + 64);
      const std::span<uint8_t> row(aligned64(buf.data()), fk->act_row_bytes(n));
      fk->prepare_act(x.data(), n, row.data());
      std::vector<int8_t> want(static_cast<size_t>(n));
      if (fk->act_type == DType::Q8_0) {
        std::vector<quant::BlockQ8_0> b(static_cast<size_t>(n / 32));
        quantize_act_q8_0(x.data(), b.data(), n);
        for (int64_t i = 0; i < n; ++i) want[i] = b[i / 32].qs[i % 32];
      } else {
        std::vector<quant::BlockQ8_K> b(static_cast<size_t>(n / 256));
        quantize_act_q8_k(x.data(), b.data(), n);
        for (int64_t i = 0; i < n; ++i) want[i] = b[i / 256].qs[i % 256];
      }
      ASSERT_GE(row.size(), panel + static_cast<size_t>(n));
      EXPECT_EQ(0, std::memcmp(row.data() + panel, want.data(), static_cast<size_t>(n)))
          << "packing " << int{p} << " n=" << n;
    }
  }
}

TensorView view_of(DType t, const std::vector<uint8_t>& w, int64_t rows, int64_t n) {
  const int64_t shape[2] = {rows, n};
  return TensorView::contiguous(t, shape, w.data());
}

// Packs w, multiplies on the AMX table (1 and 2 threads) and compares with the scalar table on
// the unpacked rows, bit for bit.
void expect_amx_equals_scalar(DType t, const std::vector<uint8_t>& w, int64_t rows, int64_t n,
                              const std::vector<float>& x, int64_t toks, const std::string& what) {
  static ThreadPool one(1), two(2);
  const KernelDispatch& amx = kernel_dispatch_for(Isa::kAvx512Amx);
  const TensorView v = view_of(t, w, rows, n);
  ASSERT_TRUE(can_repack(amx, v)) << what;
  std::vector<uint8_t> packed(w.size());
  const TensorView pv = repack_weight(v, packed.data());
  std::vector<float> want(static_cast<size_t>(toks * rows)), got1(want.size(), NAN),
      got2(want.size(), NAN);
  matmul_with(kernel_dispatch_for(Isa::kScalar), v, x.data(), toks, want.data(), &one);
  matmul_with(amx, pv, x.data(), toks, got1.data(), &one);
  matmul_with(amx, pv, x.data(), toks, got2.data(), &two);
  ASSERT_EQ(0, std::memcmp(got1.data(), want.data(), want.size() * sizeof(float)))
      << what << " tokens " << toks;
  ASSERT_EQ(0, std::memcmp(got2.data(), want.data(), want.size() * sizeof(float)))
      << what << " tokens " << toks << ", 2 threads";
}

// Formats with an AMX gemm; widths: one chunk, chunks plus a ggml tail (Q8_0/Q4_0: 3 blocks;
// Q4_K: one super-block), several chunks.
struct Shape {
  DType type;
  std::vector<int64_t> widths;
};
const Shape kShapes[] = {
    {DType::Q8_0, {512, 608, 2048}},
    {DType::Q4_0, {512, 608, 2048}},
    {DType::Q4_K, {512, 768, 2048}},
    {DType::Q6_K, {256, 768, 2048}},
};

TEST(AmxGemm, RandomBytesEqualScalarForRaggedRowsAndTokens) {
  SKIP_WITHOUT_AMX();
  std::mt19937 rng(22);
  for (const Shape& s : kShapes) {
    for (int64_t n : s.widths) {
      for (int64_t rows : {1, 17, 40, 70}) {
        const std::vector<uint8_t> w = random_byte_rows(s.type, rows, n, rng);
        // Below and above each format's AMX threshold; 33, 129 and 257 end in a partial tile.
        for (int64_t toks : {1, 5, 33, 129, 257}) {
          const std::vector<float> x = random_floats(rng, toks * n);
          expect_amx_equals_scalar(s.type, w, rows, n, x, toks,
                                   std::string(dtype_name(s.type)) + " " + std::to_string(rows) +
                                       "x" + std::to_string(n));
        }
      }
    }
  }
}

TEST(AmxGemm, QuantizedRowsEqualScalarForUpTo300Tokens) {
  SKIP_WITHOUT_AMX();
  std::mt19937 rng(23);
  for (const Shape& s : kShapes) {
    const int64_t n = s.widths[1], rows = 50;
    const std::vector<uint8_t> w = quantized_rows(s.type, rows, n, rng);
    for (int64_t toks = 1; toks <= 300; toks += (toks < 40 ? 1 : 23)) {
      const std::vector<float> x = random_floats(rng, toks * n);
      expect_amx_equals_scalar(
          s.type, w, rows, n, x, toks,
          std::string(dtype_name(s.type)) + " quantized 50x" + std::to_string(n));
    }
  }
}

TEST(AmxGemm, GgmlReferenceBlocksEqualScalar) {
  SKIP_WITHOUT_AMX();
  for (const RefMatrix& m : kRefMatrices) {
    const std::vector<float> input = read_ref_input(m);  // rows × cols: the edge cases as tokens
    for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K}) {
      const std::vector<uint8_t> w =
          read_ref(std::string(m.name) + "/" + std::string(dtype_name(t)) + ".bin");
      ASSERT_EQ(w.size(), quant_row_size(t, m.cols) * m.rows);
      if (m.cols < packed_chunk_weights(packing_for(t))) continue;  // no full chunk to pack
      // The input rows (outliers, zeros, 1e4, 1e-6) repeated to 300 tokens: past every threshold.
      const int64_t toks = 300;
      std::vector<float> x(static_cast<size_t>(toks * m.cols));
      for (int64_t i = 0; i < toks; ++i)
        std::memcpy(x.data() + i * m.cols, input.data() + (i % m.rows) * m.cols, m.cols * 4);
      expect_amx_equals_scalar(t, w, m.rows, m.cols, x, toks,
                               std::string(m.name) + " " + std::string(dtype_name(t)));
    }
  }
}

// The gemm writes y[t * y_stride + r] for its rows and tokens only: a ragged last panel (rows
// past the matrix computed as zeros) and a partial token tile must leave the rest untouched.
TEST(AmxGemm, WritesOnlyItsRowsAndTokens) {
  SKIP_WITHOUT_AMX();
  std::mt19937 rng(24);
  const KernelDispatch& amx = kernel_dispatch_for(Isa::kAvx512Amx);
  const int64_t n = 512, rows = 21, toks = 70, ys = 40;  // Q4_0: AMX from 32 tokens
  const std::vector<uint8_t> w = random_byte_rows(DType::Q4_0, rows, n, rng);
  std::vector<uint8_t> packed(w.size());
  const TensorView pv = repack_weight(view_of(DType::Q4_0, w, rows, n), packed.data());
  const FormatKernels* fk = packed_kernels(amx, kPackingQ4_0x16);
  const size_t stride = (fk->act_row_bytes(n) + 63) / 64 * 64 + 64;  // a gap between rows
  std::vector<uint8_t> act(stride * toks + 64);
  uint8_t* a = aligned64(act.data());
  const std::vector<float> x = random_floats(rng, toks * n);
  for (int64_t t = 0; t < toks; ++t) fk->prepare_act(x.data() + t * n, n, a + t * stride);
  std::vector<float> y(static_cast<size_t>(ys * (toks + 1)), 12345.f);
  fk->gemm(n, pv.data, pv.row_bytes(), rows, a, stride, toks, y.data(), ys);
  std::vector<float> want(static_cast<size_t>(rows * toks));
  ThreadPool one(1);
  matmul_with(kernel_dispatch_for(Isa::kScalar), view_of(DType::Q4_0, w, rows, n), x.data(), toks,
              want.data(), &one);
  for (int64_t t = 0; t <= toks; ++t) {
    for (int64_t r = 0; r < ys; ++r) {
      const float got = y[t * ys + r];
      if (t < toks && r < rows) {
        ASSERT_EQ(0, std::memcmp(&got, &want[t * rows + r], 4)) << t << " " << r;
      } else {
        ASSERT_EQ(got, 12345.f) << "token " << t << " row " << r << " was written";
      }
    }
  }
}

// One gemm call over more rows than a matmul task holds (64): 7 panels, so the gemm builds them
// in groups (4, then 3) and runs every full 16-token tile and the partial last one against each
// panel of a group. Each format just past its AMX threshold; compared bit for bit with scalar.
TEST(AmxGemm, OneCallOverSeveralPanelGroupsEqualsScalar) {
  SKIP_WITHOUT_AMX();
  std::mt19937 rng(25);
  const KernelDispatch& amx = kernel_dispatch_for(Isa::kAvx512Amx);
  ThreadPool one(1);
  const struct {
    DType type;
    int64_t n, toks;
  } cases[] = {{DType::Q8_0, 608, 40},
               {DType::Q4_0, 512, 40},
               {DType::Q4_K, 768, 136},
               {DType::Q6_K, 256, 264}};
  for (const auto& c : cases) {
    const int64_t rows = 100;
    const std::vector<uint8_t> w = random_byte_rows(c.type, rows, c.n, rng);
    std::vector<uint8_t> packed(w.size());
    const TensorView pv = repack_weight(view_of(c.type, w, rows, c.n), packed.data());
    const FormatKernels* fk = packed_kernels(amx, packing_for(c.type));
    ASSERT_NE(fk, nullptr);
    const size_t stride = (fk->act_row_bytes(c.n) + 63) / 64 * 64;
    std::vector<uint8_t> act(stride * static_cast<size_t>(c.toks) + 64);
    uint8_t* a = aligned64(act.data());
    const std::vector<float> x = random_floats(rng, c.toks * c.n);
    for (int64_t t = 0; t < c.toks; ++t) fk->prepare_act(x.data() + t * c.n, c.n, a + t * stride);
    std::vector<float> got(static_cast<size_t>(rows * c.toks), NAN), want(got.size());
    fk->gemm(c.n, pv.data, pv.row_bytes(), rows, a, stride, c.toks, got.data(), rows);
    matmul_with(kernel_dispatch_for(Isa::kScalar), view_of(c.type, w, rows, c.n), x.data(), c.toks,
                want.data(), &one);
    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)))
        << dtype_name(c.type);
  }
}

// The full 16-token tiles gather each token's activation scales (and Q4_K's sums) into one
// [sub-block][token] table per tile, and the k-quants take d_row · d_act once per super-block:
// tokens whose magnitudes differ by powers of two (so each token's Q8 scales differ) and whose
// signs alternate by sub-block must each get their own scale and sum, in every tile of the call
// and across the super-blocks of a row. Just past each format's threshold, whole tiles only.
TEST(AmxGemm, FullTilesKeepEachTokensScalesAndSums) {
  SKIP_WITHOUT_AMX();
  std::mt19937 rng(26);
  const struct {
    DType type;
    int64_t n, toks;
  } cases[] = {{DType::Q8_0, 512, 32},
               {DType::Q4_0, 608, 48},
               {DType::Q4_K, 768, 128},
               {DType::Q6_K, 512, 256}};
  for (const auto& c : cases) {
    const std::vector<uint8_t> w = quantized_rows(c.type, 20, c.n, rng);
    std::vector<float> x = random_floats(rng, c.toks * c.n);
    for (int64_t t = 0; t < c.toks; ++t) {
      for (int64_t i = 0; i < c.n; ++i) {
        const float sign = (i / 16) % 3 == 0 ? -1.f : 1.f;  // sub-block sums of both signs
        x[t * c.n + i] =
            sign * std::fabs(x[t * c.n + i]) * std::ldexp(1.f, static_cast<int>(t % 7));
      }
    }
    expect_amx_equals_scalar(c.type, w, 20, c.n, x, c.toks,
                             std::string(dtype_name(c.type)) + " scaled tokens");
  }
}

}  // namespace
}  // namespace edgefit::kernels
