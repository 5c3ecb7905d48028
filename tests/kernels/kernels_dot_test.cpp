// Dot-product kernels and activation quantizers: every SIMD path equals the scalar reference
// exactly (integer formats: bit for bit, by the canonical order of kernels.h; float formats within
// 1e-5), on random rows and on ggml's reference blocks; the SIMD weight unpackers write exactly the
// reference panel bytes; the activation quantizers equal ggml's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernel_test_util.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "kernels/panel.h"
#include "quant/block_formats.h"
#include "quant/quant_traits.h"

namespace edgefit::kernels {
namespace {

using namespace test_util;
using quant::BlockQ8_0;
using quant::BlockQ8_K;

// ---------------------------------------------------------------- ggml's activation quantizers

// ggml b4748 ggml-cpu-quants.c quantize_row_q8_0, AVX2 branch, written out per element:
// amax via max of |x|, d = amax / 127, id = 127 / amax, _mm256_round_ps(x·id, nearest-even).
void ggml_q8_0_x86(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
    const float d = amax / 127.f;
    y[b].d = fp32_to_fp16(d);
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    for (int j = 0; j < 32; ++j) {
      const float v = x[32 * b + j] * id;
      y[b].qs[j] = static_cast<int8_t>(std::lrint(v));  // default mode: to nearest, ties even
    }
  }
}

// ggml's nearest_int (magic-number rounding: ties to even).
int ggml_nearest_int(float f) {
  float val = f + 12582912.f;
  int i;
  std::memcpy(&i, &val, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// ggml b4748 ggml-quants.c quantize_row_q8_K_ref.
void ggml_q8_k_ref(const float* x, BlockQ8_K* y, int64_t n) {
  for (int64_t b = 0; b < n / 256; ++b, x += 256) {
    float max = 0, amax = 0;
    for (int j = 0; j < 256; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (amax == 0) {
      y[b].d = 0;
      std::memset(y[b].qs, 0, sizeof y[b].qs);
      std::memset(y[b].bsums, 0, sizeof y[b].bsums);
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < 256; ++j)
      y[b].qs[j] = static_cast<int8_t>(std::min(127, ggml_nearest_int(iscale * x[j])));
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += y[b].qs[16 * j + i];
      y[b].bsums[j] = static_cast<int16_t>(sum);
    }
    y[b].d = 1 / iscale;
  }
}

std::vector<float> activation_cases(std::mt19937& rng) {
  std::vector<float> x = random_floats(rng, 4096);
  // Exact ties of x·127/amax (amax = 127 → id = 1): k + 0.5 must round to even.
  for (int j = 0; j < 32; ++j) x[j] = j == 0 ? 127.f : -63.5f + static_cast<float>(j);
  std::fill(x.begin() + 256, x.begin() + 512, 0.f);  // an all-zero super-block
  return x;
}

TEST(ActQuant, Q8_0EqualsGgmlX86Path) {
  std::mt19937 rng(1);
  for (int rep = 0; rep < 20; ++rep) {
    const std::vector<float> x = activation_cases(rng);
    const int64_t nb = static_cast<int64_t>(x.size()) / 32;
    std::vector<BlockQ8_0> got(nb), want(nb);
    quantize_act_q8_0(x.data(), got.data(), static_cast<int64_t>(x.size()));
    ggml_q8_0_x86(x.data(), want.data(), static_cast<int64_t>(x.size()));
    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), nb * sizeof(BlockQ8_0))) << "rep " << rep;
  }
}

TEST(ActQuant, Q8_0CloseToGgmlReferenceQuantizer) {
  // src/quant's quantize_row_q8_0 is ggml's _ref (1/d and roundf): same scales, and quants that
  // differ only at rounding ties, by one.
  const RefMatrix& m = kRefMatrices[0];
  const std::vector<float> x = read_ref_input(m);
  const int64_t n = m.rows * m.cols, nb = n / 32;
  std::vector<BlockQ8_0> got(nb), ref(nb);
  quantize_act_q8_0(x.data(), got.data(), n);
  quant_traits(DType::Q8_0)->quantize_row(x.data(), ref.data(), n, nullptr);
  int64_t differ = 0;
  for (int64_t b = 0; b < nb; ++b) {
    ASSERT_EQ(got[b].d, ref[b].d);
    for (int j = 0; j < 32; ++j) {
      ASSERT_LE(std::abs(got[b].qs[j] - ref[b].qs[j]), 1);
      differ += got[b].qs[j] != ref[b].qs[j];
    }
  }
  EXPECT_LE(differ, n / 1000);
  // And the ggml reference bytes of the same input (ref/quant/<m>/Q8_0.bin).
  const std::vector<uint8_t> ggml = read_ref(std::string(m.name) + "/Q8_0.bin");
  ASSERT_EQ(ggml.size(), nb * sizeof(BlockQ8_0));
  EXPECT_EQ(0, std::memcmp(ggml.data(), ref.data(), ggml.size()));
}

TEST(ActQuant, Q8_KEqualsGgmlReference) {
  std::mt19937 rng(2);
  for (int rep = 0; rep < 20; ++rep) {
    const std::vector<float> x = activation_cases(rng);
    const int64_t nb = static_cast<int64_t>(x.size()) / 256;
    std::vector<BlockQ8_K> got(nb), want(nb);
    quantize_act_q8_k(x.data(), got.data(), static_cast<int64_t>(x.size()));
    ggml_q8_k_ref(x.data(), want.data(), static_cast<int64_t>(x.size()));
    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), nb * sizeof(BlockQ8_K))) << "rep " << rep;
  }
}

// Every SIMD table's activation preparation (AVX-512 and AVX2/AVX-VNNI have their own vectorised
// ones) writes exactly the bytes of the portable prepare_act_row, packed tables included: full and
// partial chunks, all-zero blocks, rounding ties, outliers.
TEST(ActQuant, EveryTablesPreparationEqualsThePortableOne) {
  using detail::QFormat;
  const std::pair<DType, QFormat> formats[] = {
      {DType::Q8_0, QFormat::kQ8_0}, {DType::Q4_0, QFormat::kQ4_0},
      {DType::Q4_1, QFormat::kQ4_1}, {DType::Q5_0, QFormat::kQ5_0},
      {DType::Q5_1, QFormat::kQ5_1}, {DType::IQ4_NL, QFormat::kIQ4_NL},
      {DType::Q2_K, QFormat::kQ2_K}, {DType::Q3_K, QFormat::kQ3_K},
      {DType::Q4_K, QFormat::kQ4_K}, {DType::Q5_K, QFormat::kQ5_K},
      {DType::Q6_K, QFormat::kQ6_K}};
  std::mt19937 rng(5);
  for (Isa isa : simd_isas()) {
    const KernelDispatch& kd = kernel_dispatch_for(isa);
    for (int rep = 0; rep < 4; ++rep) {
      std::vector<float> x = activation_cases(rng);
      if (rep == 1)
        for (float& v : x) v *= 1e-6f;  // scales in fp16's subnormal range
      if (rep == 2)  // the largest magnitude twice, with both signs: Q8_K takes the first
        for (int b = 0; b < 16; ++b) x[256 * b + 7] = -(x[256 * b + 200] = 50.f + b);
      for (auto [dt, f] : formats) {
        std::vector<const FormatKernels*> tables = {kd.find(dt)};
        for (uint8_t p = 1; p <= kPackingQ6_Kx1; ++p)
          if (const FormatKernels* pk = packed_kernels(kd, p); pk && pk->weight_type == dt)
            tables.push_back(pk);
        const int sum_mul = std::max(1, detail::isa_weight_offset(isa, f));
        for (int64_t n : {32, 256, 544, 768, 2048, 4096}) {
          const int bs = detail::qformat_info(f).block_elems;
          if (n % bs != 0) continue;
          const size_t bytes = detail::act_row_bytes(f, n);
          // Prepared rows are arrays of 64-byte aligned chunks (matmul allocates them so).
          std::vector<uint8_t> want_buf(bytes + 64, 0xCD);
          uint8_t* want = aligned64(want_buf.data());
          detail::prepare_act_row(f, x.data(), n, sum_mul, want);
          for (const FormatKernels* fk : tables) {
            // A table may append to the panel row (the AMX gemm: the plain quants), not change it.
            ASSERT_GE(fk->act_row_bytes(n), bytes);
            std::vector<uint8_t> got_buf(fk->act_row_bytes(n) + 64, 0xAB);
            uint8_t* got = aligned64(got_buf.data());
            fk->prepare_act(x.data(), n, got);
            ASSERT_EQ(0, std::memcmp(got, want, bytes))
                << isa_name(isa) << " " << dtype_name(dt) << " n=" << n << " rep " << rep;
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- dispatch

TEST(Dispatch, NamesRoundTripAndUnsupportedIsAnError) {
  for (int i = 0; i < kNumIsas; ++i) {
    const Isa isa = static_cast<Isa>(i);
    ASSERT_EQ(isa_from_name(isa_name(isa)), isa);
    if (isa_supported(isa)) {
      EXPECT_EQ(kernel_dispatch_for(isa).isa, isa);
      EXPECT_STREQ(kernel_dispatch_for(isa).isa_name, isa_name(isa));
    } else {
      EXPECT_THROW(kernel_dispatch_for(isa), Error);
    }
  }
  EXPECT_FALSE(isa_from_name("sse9"));
  EXPECT_TRUE(isa_supported(Isa::kScalar));
  EXPECT_EQ(kernel_dispatch().isa, best_isa());  // EDGEFIT_ISA is not set under ctest
  std::printf("[ info     ] best ISA here: %s\n", isa_name(best_isa()));
}

TEST(Dispatch, EveryEntrySitsInTheSlotOfItsFormatAndPacking) {
  for (Isa isa : supported_isas()) expect_entries_match_slots(kernel_dispatch_for(isa));
  // And a slot that is empty finds nothing: no kernel for a type without a slot.
  EXPECT_FALSE(kernel_slot(DType::Q8_K).has_value());
  EXPECT_FALSE(kernel_slot(DType::Q4_1, kPackingQ4_0x16).has_value());
  EXPECT_EQ(kernel_dispatch_for(Isa::kScalar).find(DType::IQ2_XXS), nullptr);
}

// A missing entry fails here rather than silently reaching the dequantize fallback: every table
// fills every slot of ggml's layout (formats and sparse types alike), the scalar table (the twin
// of every kernel) every slot, and each x86 SIMD table every dense packed slot.
TEST(Dispatch, EveryTableFillsTheSlotsItsIsaMustHave) {
  for (Isa isa : supported_isas()) {
    const KernelDispatch& kd = kernel_dispatch_for(isa);
    for (int s = 0; s < kNumKernelSlots; ++s) {
      const KernelSlot slot = static_cast<KernelSlot>(s);
      const KernelSlotInfo info = kernel_slot_info(slot);
      const bool dense_packed = info.packing != 0 && !is_sparse_dtype(info.weight_type);
      const bool x86_simd = isa == Isa::kAvx2 || isa == Isa::kAvxVnni || isa == Isa::kAvx512Vnni ||
                            isa == Isa::kAvx512Amx;
      const bool must = info.packing == 0 || isa == Isa::kScalar || (dense_packed && x86_simd);
      if (must) {
        EXPECT_NE(kd.at(slot).gemm, nullptr) << isa_name(isa) << " " << info.name;
      }
    }
  }
}

// ---------------------------------------------------------------- unpackers

TEST(Unpack, SimdUnpackersEqualReference) {
#if defined(__x86_64__)
  using detail::QFormat;
  const std::pair<Isa, detail::UnpackChunkFn> paths[] = {
      {Isa::kAvx2, detail::avx2_unpack()}, {Isa::kAvx512Vnni, detail::avx512vnni_unpack()}};
  const std::pair<DType, QFormat> formats[] = {
      {DType::Q8_0, QFormat::kQ8_0}, {DType::Q4_0, QFormat::kQ4_0},
      {DType::Q4_1, QFormat::kQ4_1}, {DType::Q5_0, QFormat::kQ5_0},
      {DType::Q5_1, QFormat::kQ5_1}, {DType::IQ4_NL, QFormat::kIQ4_NL},
      {DType::Q2_K, QFormat::kQ2_K}, {DType::Q3_K, QFormat::kQ3_K},
      {DType::Q4_K, QFormat::kQ4_K}, {DType::Q5_K, QFormat::kQ5_K},
      {DType::Q6_K, QFormat::kQ6_K}};
  std::mt19937 rng(3);
  for (auto [isa, unpack] : paths) {
    if (!isa_supported(isa)) continue;
    for (auto [dt, f] : formats) {
      for (int64_t n : {512, 768, 2048, 256 * 7}) {
        const std::vector<uint8_t> w = random_byte_rows(dt, 1, n, rng);
        const int off = detail::isa_weight_offset(isa, f);
        alignas(64) uint8_t got[768], want[768];
        for (int64_t c = 0; c < detail::n_chunks(f, n); ++c) {
          std::memset(got, 0xAB, sizeof got);
          std::memset(want, 0xCD, sizeof want);
          unpack(f, w.data(), n, c, got);
          detail::unpack_chunk_ref(f, w.data(), n, c, off, want);
          const size_t bytes = detail::qformat_info(f).groups == 8 ? 768 : 512;
          ASSERT_EQ(0, std::memcmp(got, want, bytes))
              << isa_name(isa) << " " << dtype_name(dt) << " n=" << n << " chunk " << c;
        }
      }
    }
  }
#else
  GTEST_SKIP() << "x86-64 only";
#endif
}

// ---------------------------------------------------------------- dot products

// ggml-style activation row for the scalar reference.
std::vector<uint8_t> reference_act(DType wt, const std::vector<float>& x) {
  const KernelDispatch& sc = kernel_dispatch_for(Isa::kScalar);
  const FormatKernels* fk = sc.find(wt);
  std::vector<uint8_t> a(fk->act_row_bytes(static_cast<int64_t>(x.size())));
  fk->prepare_act(x.data(), static_cast<int64_t>(x.size()), a.data());
  return a;
}

// SIMD dot of `rows` rows of w against x on `isa`, compared with the scalar reference.
void check_rows(Isa isa, DType wt, const uint8_t* w, int64_t rows, int64_t n,
                const std::vector<float>& x, const std::string& what) {
  const FormatKernels* ref = kernel_dispatch_for(Isa::kScalar).find(wt);
  const FormatKernels* fk = kernel_dispatch_for(isa).find(wt);
  ASSERT_NE(fk, nullptr);
  const std::vector<uint8_t> ra = reference_act(wt, x);
  std::vector<uint8_t> buf(fk->act_row_bytes(n) + 64);
  uint8_t* a = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
  fk->prepare_act(x.data(), n, a);
  const size_t rb = quant_row_size(wt, n);
  const bool exact = !(wt == DType::F16 || wt == DType::BF16 || wt == DType::F32);
  for (int64_t r = 0; r < rows; ++r) {
    const float want = ref->vec_dot(n, w + r * rb, ra.data());
    const float got = fk->vec_dot(n, w + r * rb, a);
    if (exact) {
      ASSERT_EQ(got, want) << isa_name(isa) << " " << dtype_name(wt) << " " << what << " row " << r;
    } else {
      ASSERT_NEAR(got, want, 1e-5 * std::max(1.f, std::fabs(want)))
          << isa_name(isa) << " " << dtype_name(wt) << " " << what << " row " << r;
    }
  }
}

TEST(Dot, SimdEqualsScalarOnRandomRows) {
  std::mt19937 rng(4);
  for (Isa isa : simd_isas()) {
    for (DType t : kQuantTypes) {
      for (int64_t n : {256, 512, 768, 2048, 5632}) {
        const std::vector<float> x = random_floats(rng, n);
        const std::vector<uint8_t> wq = quantized_rows(t, 6, n, rng);
        check_rows(isa, t, wq.data(), 6, n, x, "quantized n=" + std::to_string(n));
        const std::vector<uint8_t> wr = random_byte_rows(t, 6, n, rng);
        check_rows(isa, t, wr.data(), 6, n, x, "random bytes n=" + std::to_string(n));
      }
    }
    for (DType t : kFloatTypes) {
      for (int64_t n : {1, 15, 16, 17, 100, 2048}) {
        const std::vector<float> x = random_floats(rng, n);
        const std::vector<uint8_t> w = random_byte_rows(t, 4, n, rng);
        check_rows(isa, t, w.data(), 4, n, x, "n=" + std::to_string(n));
      }
    }
  }
}

TEST(Dot, SimdEqualsScalarOnGgmlReferenceBlocks) {
  for (const RefMatrix& m : kRefMatrices) {
    const std::vector<float> input = read_ref_input(m);
    for (DType t : kQuantTypes) {
      const std::vector<uint8_t> w =
          read_ref(std::string(m.name) + "/" + std::string(dtype_name(t)) + ".bin");
      ASSERT_EQ(w.size(), quant_row_size(t, m.cols) * m.rows);
      // Activations: rows of the input itself (outliers, zeros, 1e4, 1e-6: the edge cases).
      for (int64_t xr : {int64_t{0}, m.rows / 2, m.rows - 1}) {
        const std::vector<float> x(input.begin() + xr * m.cols, input.begin() + (xr + 1) * m.cols);
        for (Isa isa : simd_isas()) {
          check_rows(isa, t, w.data(), m.rows, m.cols, x, std::string(m.name));
        }
        // And the reference itself against the f64 dot of ggml's dequantized weights with the
        // dequantized activations: equal up to float rounding.
        const std::vector<uint8_t> deq =
            read_ref(std::string(m.name) + "/" + std::string(dtype_name(t)) + ".dequant.f32.bin");
        const std::vector<float> xq = as_kernels_see(t, x.data(), m.cols);
        const std::vector<uint8_t> ra = reference_act(t, x);
        const FormatKernels* ref = kernel_dispatch_for(Isa::kScalar).find(t);
        for (int64_t r = 0; r < m.rows; ++r) {
          double exact = 0, mag = 0;
          for (int64_t i = 0; i < m.cols; ++i) {
            float wf;
            std::memcpy(&wf, deq.data() + 4 * (r * m.cols + i), 4);
            exact += double{wf} * xq[i];
            mag += std::fabs(double{wf} * xq[i]);
          }
          const float got =
              ref->vec_dot(m.cols, w.data() + r * quant_row_size(t, m.cols), ra.data());
          ASSERT_NEAR(got, exact, 1e-5 * mag + 1e-30)
              << m.name << " " << dtype_name(t) << " row " << r;
        }
      }
    }
  }
}

TEST(Dot, GemmEqualsVecDotOnEveryPath) {
  std::mt19937 rng(5);
  const int64_t n = 768, rows = 9, toks = 7;
  for (Isa isa : supported_isas()) {
    const KernelDispatch& kd = kernel_dispatch_for(isa);
    std::vector<DType> types(std::begin(kQuantTypes), std::end(kQuantTypes));
    types.insert(types.end(), std::begin(kFloatTypes), std::end(kFloatTypes));
    for (DType t : types) {
      const FormatKernels* fk = kd.find(t);
      const std::vector<uint8_t> w = random_byte_rows(t, rows, n, rng);
      const size_t stride = (fk->act_row_bytes(n) + 63) / 64 * 64;
      std::vector<uint8_t> buf(stride * toks + 64);
      uint8_t* a = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
      for (int64_t tk = 0; tk < toks; ++tk) {
        const std::vector<float> x = random_floats(rng, n);
        fk->prepare_act(x.data(), n, a + tk * stride);
      }
      const size_t rb = quant_row_size(t, n);
      std::vector<float> y(rows * toks);
      fk->gemm(n, w.data(), rb, rows, a, stride, toks, y.data(), rows);
      for (int64_t tk = 0; tk < toks; ++tk) {
        for (int64_t r = 0; r < rows; ++r) {
          ASSERT_EQ(y[tk * rows + r], fk->vec_dot(n, w.data() + r * rb, a + tk * stride))
              << isa_name(isa) << " " << dtype_name(t) << " row " << r << " token " << tk;
        }
      }
    }
  }
}

// The gemm's epilogue multiplies a sub-block's exact sum by its integer scale (and the min by
// the activation sum) as floats, which is exact only while the products stay below 2^24. Rows of
// the largest levels and scales (all bits set, or Q6_K's -32 levels and -128 scales) against
// activations that quantize to ±127 give the largest products each format can make.
TEST(Dot, GemmEqualsScalarAtTheLargestKQuantSums) {
  struct Case {
    DType type;
    size_t d_off;     // the block's fp16 d
    int dmin_off;     // the block's fp16 dmin (-1: none)
    size_t sc_off;    // first byte of its scales
    size_t sc_bytes;  // bytes of scales
  };
  using namespace quant;
  const Case cases[] = {{DType::Q2_K, offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin),
                         offsetof(BlockQ2_K, scales), sizeof(BlockQ2_K::scales)},
                        {DType::Q3_K, offsetof(BlockQ3_K, d), -1, offsetof(BlockQ3_K, scales),
                         sizeof(BlockQ3_K::scales)},
                        {DType::Q4_K, offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin),
                         offsetof(BlockQ4_K, scales), sizeof(BlockQ4_K::scales)},
                        {DType::Q5_K, offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin),
                         offsetof(BlockQ5_K, scales), sizeof(BlockQ5_K::scales)},
                        {DType::Q6_K, offsetof(BlockQ6_K, d), -1, offsetof(BlockQ6_K, scales),
                         sizeof(BlockQ6_K::scales)}};
  const int64_t n = 512, rows = 4, toks = 3;  // one whole 4-row × 3-token register tile
  const uint16_t one = 0x3C00;                // fp16 1.0
  for (Isa isa : simd_isas()) {
    for (const Case& c : cases) {
      for (uint8_t qfill : {uint8_t{0x00}, uint8_t{0xFF}}) {
        for (uint8_t sfill : {uint8_t{0xFF}, uint8_t{0x80}}) {
          const size_t bb = quant_row_size(c.type, 256), rb = quant_row_size(c.type, n);
          std::vector<uint8_t> w(rb * rows, qfill);
          for (size_t b = 0; b < w.size() / bb; ++b) {
            uint8_t* blk = w.data() + b * bb;
            std::memset(blk + c.sc_off, sfill, c.sc_bytes);
            std::memcpy(blk + c.d_off, &one, 2);
            if (c.dmin_off >= 0) std::memcpy(blk + c.dmin_off, &one, 2);
          }
          std::vector<float> got(rows * toks), want(rows * toks);
          for (int pass = 0; pass < 2; ++pass) {
            const FormatKernels* fk =
                kernel_dispatch_for(pass == 0 ? isa : Isa::kScalar).find(c.type);
            const size_t stride = (fk->act_row_bytes(n) + 63) / 64 * 64;
            std::vector<uint8_t> buf(stride * toks + 64);
            uint8_t* a = aligned64(buf.data());
            for (int64_t tk = 0; tk < toks; ++tk) {
              const std::vector<float> x(n, tk == 1 ? -1.f : 1.f);  // quants -127 or 127
              fk->prepare_act(x.data(), n, a + tk * stride);
            }
            fk->gemm(n, w.data(), rb, rows, a, stride, toks, (pass == 0 ? got : want).data(), rows);
          }
          ASSERT_TRUE(std::isfinite(want[0]) && want[0] != 0) << dtype_name(c.type);
          EXPECT_EQ(got, want) << isa_name(isa) << " " << dtype_name(c.type) << " fill "
                               << int{qfill} << " scales " << int{sfill};
        }
      }
    }
  }
}

}  // namespace
}  // namespace edgefit::kernels
