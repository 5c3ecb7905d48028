// The traits table and the tensor-level loops over it.
#include "quant/quant_traits.h"

#include <algorithm>
#include <array>
#include <string>

#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/block_formats.h"
#include "quant/kernels.h"
#include "quant/q_sparse.h"

namespace edgefit {

namespace {

using namespace quant;

// Reference dot product: dequantize a few blocks at a time and accumulate in double. Parametrised
// on the row's dequantizer so every table row gets its own plain function pointer.
template <DequantizeRowFn kDequant, int kBlockSize, int kTypeSize>
float reference_vec_dot(const void* x, const float* y, int64_t n) {
  constexpr int64_t kChunk = kBlockSize >= 256 ? kBlockSize : 256;  // a whole number of blocks
  float buf[kChunk];
  const auto* bytes = static_cast<const uint8_t*>(x);
  double sum = 0;
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t len = std::min(kChunk, n - i);
    kDequant(bytes + i / kBlockSize * kTypeSize, buf, len);
    for (int64_t j = 0; j < len; ++j) sum += static_cast<double>(buf[j]) * y[i + j];
  }
  return static_cast<float>(sum);
}

template <DType kType, int kBlockSize, int kTypeSize, QuantizeRowFn kQuant,
          DequantizeRowFn kDequant>
constexpr QuantTraits row(bool has_search, bool uses_importance, DType vec_dot_type) {
  return {kType,           kBlockSize,   kTypeSize,
          kQuant,          kDequant,     has_search,
          uses_importance, vec_dot_type, reference_vec_dot<kDequant, kBlockSize, kTypeSize>};
}

// clang-format off
constexpr std::array<QuantTraits, 18> kTraits = {{
    //  type          block  bytes                 quantize             dequantize              search importance  activations
    row<DType::F32,    1,     4,                    quantize_row_f32,    dequantize_row_f32>   (false, false, DType::F32),
    row<DType::F16,    1,     2,                    quantize_row_f16,    dequantize_row_f16>   (false, false, DType::F16),
    row<DType::BF16,   1,     2,                    quantize_row_bf16,   dequantize_row_bf16>  (false, false, DType::BF16),
    row<DType::Q4_0,   kQK,   sizeof(BlockQ4_0),    quantize_row_q4_0,   dequantize_row_q4_0>  (false, true,  DType::Q8_0),
    row<DType::Q4_1,   kQK,   sizeof(BlockQ4_1),    quantize_row_q4_1,   dequantize_row_q4_1>  (false, true,  DType::Q8_1),
    row<DType::Q5_0,   kQK,   sizeof(BlockQ5_0),    quantize_row_q5_0,   dequantize_row_q5_0>  (false, true,  DType::Q8_0),
    row<DType::Q5_1,   kQK,   sizeof(BlockQ5_1),    quantize_row_q5_1,   dequantize_row_q5_1>  (false, true,  DType::Q8_1),
    row<DType::Q8_0,   kQK,   sizeof(BlockQ8_0),    quantize_row_q8_0,   dequantize_row_q8_0>  (false, false, DType::Q8_0),
    row<DType::Q2_K,   kQK_K, sizeof(BlockQ2_K),    quantize_row_q2_k,   dequantize_row_q2_k>  (true,  true,  DType::Q8_K),
    row<DType::Q3_K,   kQK_K, sizeof(BlockQ3_K),    quantize_row_q3_k,   dequantize_row_q3_k>  (true,  true,  DType::Q8_K),
    row<DType::Q4_K,   kQK_K, sizeof(BlockQ4_K),    quantize_row_q4_k,   dequantize_row_q4_k>  (true,  true,  DType::Q8_K),
    row<DType::Q5_K,   kQK_K, sizeof(BlockQ5_K),    quantize_row_q5_k,   dequantize_row_q5_k>  (true,  true,  DType::Q8_K),
    row<DType::Q6_K,   kQK_K, sizeof(BlockQ6_K),    quantize_row_q6_k,   dequantize_row_q6_k>  (true,  true,  DType::Q8_K),
    row<DType::Q8_K,   kQK_K, sizeof(BlockQ8_K),    quantize_row_q8_k,   dequantize_row_q8_k>  (false, false, DType::Q8_K),
    row<DType::IQ4_NL, kQK,   sizeof(BlockIQ4_NL),  quantize_row_iq4_nl, dequantize_row_iq4_nl>(true,  true,  DType::Q8_0),
    // edgefit's sparse types (q_sparse.h): the input's exact zeros are the pruned weights
    row<DType::Q4_2OF4,   kQK_K, sizeof(BlockQ4_2of4),   quantize_row_q4_2of4,   dequantize_row_q4_2of4>  (false, true, DType::Q8_K),
    row<DType::Q4_MASK50, kQK_K, sizeof(BlockQ4_Mask50), quantize_row_q4_mask50, dequantize_row_q4_mask50>(false, true, DType::Q8_K),
    row<DType::Q4_MASK62, kQK_K, sizeof(BlockQ4_Mask62), quantize_row_q4_mask62, dequantize_row_q4_mask62>(false, true, DType::Q8_K),
}};
// clang-format on

const QuantTraits& checked_traits(DType type, int64_t row_len) {
  const QuantTraits* t = quant_traits(type);
  if (!t) throw Error("quantization to " + std::string(dtype_name(type)) + " is not supported");
  if (row_len < 0 || row_len % t->block_size != 0) {
    throw Error("row length " + std::to_string(row_len) + " is not a multiple of the " +
                std::string(dtype_name(type)) + " block size " + std::to_string(t->block_size));
  }
  return *t;
}

// Rows per parallel chunk: enough that a chunk is at least ~64K elements of work.
int64_t row_grain(int64_t row_len) {
  return std::max<int64_t>(1, 65536 / std::max<int64_t>(row_len, 1));
}

}  // namespace

const QuantTraits* quant_traits(DType type) {
  for (const auto& t : kTraits)
    if (t.type == type) return &t;
  return nullptr;
}

std::span<const QuantTraits> all_quant_traits() {
  return kTraits;
}

size_t quant_row_size(DType type, int64_t row_len) {
  const QuantTraits& t = checked_traits(type, row_len);
  return static_cast<size_t>(row_len / t.block_size) * static_cast<size_t>(t.type_size);
}

size_t quantize_tensor(DType type, const float* src, int64_t n_rows, int64_t row_len, void* dst,
                       const float* importance, ThreadPool* pool) {
  const QuantTraits& t = checked_traits(type, row_len);
  const size_t row_size = quant_row_size(type, row_len);
  if (n_rows <= 0 || row_len == 0) return 0;
  auto* out = static_cast<uint8_t*>(dst);
  auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      try {
        t.quantize_row(src + r * row_len, out + r * row_size, row_len, importance);
      } catch (const Error& e) {  // the sparse types reject inputs their pattern cannot hold
        throw Error("row " + std::to_string(r) + ": " + e.what());
      }
    }
  };
  if (n_rows == 1) {
    rows(0, 1);
  } else {
    (pool ? *pool : ThreadPool::global()).parallel_for(n_rows, row_grain(row_len), rows);
  }
  return static_cast<size_t>(n_rows) * row_size;
}

void dequantize_tensor(DType type, const void* src, int64_t n_rows, int64_t row_len, float* dst,
                       ThreadPool* pool) {
  const QuantTraits& t = checked_traits(type, row_len);
  const size_t row_size = quant_row_size(type, row_len);
  if (n_rows <= 0 || row_len == 0) return;
  const auto* in = static_cast<const uint8_t*>(src);
  auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      t.dequantize_row(in + r * row_size, dst + r * row_len, row_len);
  };
  if (n_rows == 1) {
    rows(0, 1);
  } else {
    (pool ? *pool : ThreadPool::global()).parallel_for(n_rows, row_grain(row_len), rows);
  }
}

}  // namespace edgefit
