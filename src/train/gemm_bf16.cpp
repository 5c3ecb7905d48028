#include "train/gemm_bf16.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/cpu_features.h"
#include "kernels/amx_tiles.h"
#include "kernels/float_simd.h"
#include "train/gemm_bf16_unpack.h"

namespace edgefit::train {

uint32_t bf16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
}

void pack_bf16_rows(const float* a, int64_t m, int64_t k, int64_t lda, uint32_t* packed) {
  const int64_t k_pairs = (k + 1) / 2;
  for (int64_t i = 0; i < m; ++i) {
    const float* row = a + i * lda;
    uint32_t* out = packed + i * k_pairs;
    for (int64_t p = 0; p < k / 2; ++p)
      out[p] = bf16_bits(row[2 * p]) >> 16 | bf16_bits(row[2 * p + 1]);
    if (k % 2) out[k_pairs - 1] = bf16_bits(row[k - 1]) >> 16;
  }
}

namespace {

void pack_b_scalar(const float* b, int64_t k, int64_t n, int64_t ldb, uint32_t* packed) {
  for (int64_t p = 0; p < (k + 1) / 2; ++p) {
    const float* even = b + 2 * p * ldb;
    const float* odd = 2 * p + 1 < k ? even + ldb : nullptr;
    for (int64_t j = 0; j < n; ++j)
      packed[p * n + j] = bf16_bits(even[j]) >> 16 | (odd ? bf16_bits(odd[j]) : 0u);
  }
}

float low_half(uint32_t pair) {
  const uint32_t u = pair << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

float high_half(uint32_t pair) {
  const uint32_t u = pair & 0xffff0000u;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

void nn_scalar(int64_t m, int64_t n, int64_t k_pairs, const uint32_t* a, int64_t lda,
               const uint32_t* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float acc = accumulate ? c[i * ldc + j] : 0.0f;
      for (int64_t p = 0; p < k_pairs; ++p) {
        const uint32_t x = a[i * lda + p], w = b[p * ldb + j];
        acc += high_half(x) * high_half(w);  // vdpbf16ps adds the odd product first
        acc += low_half(x) * low_half(w);
      }
      c[i * ldc + j] = acc;
    }
}

PackBQuantFn no_fused_packing(DType) {
  return nullptr;
}

bool cpu_has_avx512_bf16() {
  return cpu_features().avx512_bf16 && kernels::float_simd() == kernels::FloatSimd::kAvx512;
}

}  // namespace

const Bf16GemmTable& bf16_gemm_table_scalar() {
  static const Bf16GemmTable table{pack_b_scalar, nn_scalar, no_fused_packing, "scalar"};
  return table;
}

const Bf16GemmTable& bf16_gemm_table() {
  static const Bf16GemmTable& table = !cpu_has_avx512_bf16()        ? bf16_gemm_table_scalar()
                                      : kernels::amx_support().bf16 ? bf16_gemm_table_amx()
                                                                    : bf16_gemm_table_avx512();
  return table;
}

TrainProducts train_products(DType frozen) {
  // -1: unset (bf16 for block-quantized weights), 0: f32 everywhere, 1: bf16 everywhere.
  static const int forced = [] {
    const char* env = std::getenv("EDGEFIT_TRAIN_BF16");
    return env == nullptr ? -1 : std::string(env) == "1" ? 1 : 0;
  }();
  static const bool available = cpu_has_avx512_bf16();
  const bool block_quantized = dtype_row(frozen).quantized;  // the core table's row says it
  const bool bf16 = available && (forced == 1 || (forced == -1 && block_quantized));
  return bf16 ? TrainProducts::kBf16 : TrainProducts::kF32;
}

#if !defined(__x86_64__)
// Only the scalar table is built off x86; the AVX512-BF16 one is never chosen there.
const Bf16GemmTable& bf16_gemm_table_avx512() {
  return bf16_gemm_table_scalar();
}
const Bf16GemmTable& bf16_gemm_table_amx() {
  return bf16_gemm_table_scalar();
}
DequantRowsFn dequantize_rows_avx512(DType) {
  return nullptr;
}
#endif

}  // namespace edgefit::train
