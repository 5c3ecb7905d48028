// Shared helpers of the kernels tests: the ISAs to check, weight rows of every format, and the
// ggml reference blocks of ../shared/ref/quant.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "kernels/kernels.h"
#include "quant/quant_traits.h"
#include "test_data.h"

namespace edgefit::kernels::test_util {

// Every ISA this binary and CPU can run, scalar first.
inline std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (int i = 0; i < kNumIsas; ++i) {
    if (isa_supported(static_cast<Isa>(i))) out.push_back(static_cast<Isa>(i));
  }
  return out;
}

// The SIMD ISAs (everything but scalar) this machine runs.
inline std::vector<Isa> simd_isas() {
  std::vector<Isa> out = supported_isas();
  out.erase(out.begin());
  return out;
}

// The weight formats with integer kernels, and the float ones.
inline constexpr DType kQuantTypes[] = {DType::Q8_0, DType::Q4_0,   DType::Q4_1, DType::Q5_0,
                                        DType::Q5_1, DType::IQ4_NL, DType::Q2_K, DType::Q3_K,
                                        DType::Q4_K, DType::Q5_K,   DType::Q6_K};
inline constexpr DType kFloatTypes[] = {DType::F16, DType::BF16, DType::F32};

// The first 64-byte aligned address at or after p: prepared activation rows are arrays of
// 64-byte aligned chunks (matmul allocates them so; the preparations may use aligned stores), so
// a test's buffer needs 64 bytes of room before its row.
inline uint8_t* aligned64(uint8_t* p) {
  return p + (64 - reinterpret_cast<uintptr_t>(p) % 64) % 64;
}

inline std::vector<float> random_floats(std::mt19937& rng, int64_t n, float scale = 1.f) {
  std::normal_distribution<float> nd(0.f, scale);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) {
    x = nd(rng);
    if (u(rng) < 0.01f) x *= 20.f;  // outliers, as real activations have
  }
  return v;
}

// rows × n weights of type t: quantized from Gaussian floats (realistic levels and scales).
inline std::vector<uint8_t> quantized_rows(DType t, int64_t rows, int64_t n, std::mt19937& rng) {
  const size_t rb = quant_row_size(t, n);
  std::vector<uint8_t> out(rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const std::vector<float> f = random_floats(rng, n, 0.05f);
    quant_traits(t)->quantize_row(f.data(), out.data() + r * rb, n, nullptr);
  }
  return out;
}

// rows × n weights of type t made of random bytes (every level, including Q8_0's -128, occurs),
// with the fp16 scale fields replaced by finite values so results stay finite.
inline std::vector<uint8_t> random_byte_rows(DType t, int64_t rows, int64_t n, std::mt19937& rng) {
  const QuantTraits* qt = quant_traits(t);
  const size_t rb = quant_row_size(t, n);
  std::vector<uint8_t> out(rb * static_cast<size_t>(rows));
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> u(-0.02f, 0.02f);
  auto put = [&](uint8_t* p) {
    const uint16_t h = fp32_to_fp16(u(rng));
    std::memcpy(p, &h, 2);
  };
  const int64_t n_blocks = static_cast<int64_t>(out.size()) / qt->type_size;
  for (int64_t b = 0; b < n_blocks; ++b) {
    uint8_t* p = out.data() + b * qt->type_size;
    switch (t) {
      case DType::Q8_0:
      case DType::Q4_0:
      case DType::Q5_0:
      case DType::IQ4_NL:
        put(p);
        break;
      case DType::Q4_1:
      case DType::Q5_1:
      case DType::Q4_K:
      case DType::Q5_K:
        put(p), put(p + 2);
        break;
      case DType::Q2_K:
        put(p + 80), put(p + 82);
        break;
      case DType::Q3_K:
        put(p + 108);
        break;
      case DType::Q6_K:
        put(p + 208);
        break;
      default:
        break;
    }
  }
  if (t == DType::F16 || t == DType::BF16) {  // random finite halves
    for (int64_t i = 0; i < rows * n; ++i) {
      const float f = u(rng) * 50.f;
      const uint16_t h = t == DType::F16 ? fp32_to_fp16(f) : fp32_to_bf16(f);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  if (t == DType::F32) {
    for (int64_t i = 0; i < rows * n; ++i) {
      const float f = u(rng) * 50.f;
      std::memcpy(out.data() + 4 * i, &f, 4);
    }
  }
  return out;
}

// x as the kernels see it for weight type t: quantized with ggml's activation format (Q8_0 or
// Q8_K; Q8_1 has Q8_0's quants and scales) and dequantized again; float types see x itself.
inline std::vector<float> as_kernels_see(DType t, const float* x, int64_t n) {
  std::vector<float> out(x, x + n);
  const QuantTraits* qt = quant_traits(t);
  if (qt != nullptr && qt->block_size == 32) {  // Q8_0 (Q8_1) activations
    std::vector<quant::BlockQ8_0> b(static_cast<size_t>(n / 32));
    quantize_act_q8_0(x, b.data(), n);
    for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(b[i / 32].d) * b[i / 32].qs[i % 32];
  } else if (qt != nullptr && qt->block_size == 256 && t != DType::Q8_K) {  // Q8_K activations
    std::vector<quant::BlockQ8_K> b(static_cast<size_t>(n / 256));
    quantize_act_q8_k(x, b.data(), n);
    for (int64_t i = 0; i < n; ++i) out[i] = b[i / 256].d * b[i / 256].qs[i % 256];
  }
  return out;
}

// The ggml reference matrices of ../shared/ref/quant (README section 4).
struct RefMatrix {
  const char* name;  // folder name under ref/quant
  int64_t rows;      // ne1
  int64_t cols;      // ne0, the row length
};

inline constexpr RefMatrix kRefMatrices[] = {
    {"m0_normal_outliers_64x512", 64, 512},
    {"m1_weightlike_48x768", 48, 768},
    {"m2_student_t3_32x1024", 32, 1024},
    {"m3_edge_cases_16x256", 16, 256},
};

// A whole reference file; missing data is a hard failure, never a skip.
inline std::vector<uint8_t> read_ref(const std::string& rel) {
  const std::string path = test::shared_path("ref/quant/" + rel);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("missing reference data file " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline std::vector<float> read_ref_input(const RefMatrix& m) {
  const std::vector<uint8_t> b = read_ref(std::string("inputs/") + m.name + ".f32.bin");
  if (b.size() != static_cast<size_t>(m.rows * m.cols) * 4) {
    throw std::runtime_error(std::string("bad size of input ") + m.name);
  }
  std::vector<float> f(static_cast<size_t>(m.rows * m.cols));
  std::memcpy(f.data(), b.data(), b.size());
  return f;
}

// Every non-empty entry of every table this host runs (and the AVX-VNNI twin's, in
// kernels_avxvnni_test) reads the weight format and packing of the slot it sits in, and a slot
// finds its own entry back: a kernel registered under another format's slot fails here.
inline void expect_entries_match_slots(const KernelDispatch& kd) {
  int filled = 0;
  for (int i = 0; i < kNumKernelSlots; ++i) {
    const KernelSlot slot = static_cast<KernelSlot>(i);
    const KernelSlotInfo info = kernel_slot_info(slot);
    const FormatKernels& k = kd.at(slot);
    EXPECT_EQ(kernel_slot(info.weight_type, info.packing), slot) << info.name;
    if (k.gemm == nullptr) {
      EXPECT_EQ(k.vec_dot, nullptr) << kd.isa_name << " " << info.name << ": vec_dot without gemm";
      continue;
    }
    ++filled;
    EXPECT_EQ(k.weight_type, info.weight_type) << kd.isa_name << " slot " << info.name;
    EXPECT_EQ(k.packing, info.packing) << kd.isa_name << " slot " << info.name;
    const QuantTraits* qt = quant_traits(info.weight_type);
    ASSERT_NE(qt, nullptr) << info.name;
    if (info.packing == 0) {
      EXPECT_EQ(k.block_size, qt->block_size) << kd.isa_name << " " << info.name;
    }
    EXPECT_NE(k.act_row_bytes, nullptr) << kd.isa_name << " " << info.name;
    EXPECT_NE(k.prepare_act, nullptr) << kd.isa_name << " " << info.name;
    // The activation blocks ggml pairs with the format (float weights: f32 as they are), except
    // Q8_1, whose quants and scale are Q8_0's (kernels.h: the canonical order uses the exact
    // integer sum in place of its fp16 s).
    const bool is_float = qt->block_size == 1;
    const DType want_act = is_float                          ? DType::F32
                           : qt->vec_dot_type == DType::Q8_1 ? DType::Q8_0
                                                             : qt->vec_dot_type;
    EXPECT_EQ(k.act_type, want_act) << kd.isa_name << " " << info.name;
    if (info.packing == 0) {
      EXPECT_EQ(kd.find(info.weight_type), &k) << kd.isa_name << " " << info.name;
    } else {
      EXPECT_EQ(packed_kernels(kd, info.packing), &k) << kd.isa_name << " " << info.name;
    }
  }
  EXPECT_GE(filled, 8) << kd.isa_name << ": the formats every table has";
}

}  // namespace edgefit::kernels::test_util
