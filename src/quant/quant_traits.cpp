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

// A table row: `facts` as the table writes them (search, importance, activations, GPTQ codes),
// completed with the type, its block size and bytes from core/dtype (which must equal the block
// struct's size), its functions and the reference dot.
template <DType kType, class Block, QuantizeRowFn kQuant, DequantizeRowFn kDequant>
constexpr QuantTraits row(QuantTraits facts) {
  constexpr DTypeInfo kInfo = dtype_row(kType);
  static_assert(kInfo.type_size != 0 && sizeof(Block) == kInfo.type_size,
                "the block struct and core/dtype's bytes per block disagree");
  constexpr int kBlockSize = static_cast<int>(kInfo.block_size);
  constexpr int kTypeSize = static_cast<int>(kInfo.type_size);
  QuantTraits r = facts;
  r.type = kType;
  r.block_size = kBlockSize;
  r.type_size = kTypeSize;
  r.quantize_row = kQuant;
  r.dequantize_row = kDequant;
  r.vec_dot_f32 = reference_vec_dot<kDequant, kBlockSize, kTypeSize>;
  // Filled on every row, grid or not (format_grid answers only rows with a decode): a test of
  // the function pointer here would not be a constant expression under the sanitizers.
  r.gptq_grid.type = kType;
  r.gptq_grid.block_size = kBlockSize;
  r.gptq_grid.type_size = static_cast<size_t>(kTypeSize);
  return r;
}

// GPTQ's codes per format: Q8_0 keeps ggml's symmetric [-127, 127]; Q3_K's level is q − 4 (q = 2
// low bits + high bit); Q6_K's q − 32.
constexpr std::array<QuantTraits, 19> kTraits = {
    row<DType::F32, float, quantize_row_f32, dequantize_row_f32>({.vec_dot_type = DType::F32}),
    row<DType::F16, uint16_t, quantize_row_f16, dequantize_row_f16>({.vec_dot_type = DType::F16}),
    row<DType::BF16, uint16_t, quantize_row_bf16, dequantize_row_bf16>(
        {.vec_dot_type = DType::BF16}),
    row<DType::Q4_0, BlockQ4_0, quantize_row_q4_0, dequantize_row_q4_0>(
        {.uses_importance = true,
         .vec_dot_type = DType::Q8_0,
         .gptq_grid =
             {.q_max = 15, .zero = 8, .decode = decode_grid_q4_0, .pack = pack_grid_q4_0}}),
    row<DType::Q4_1, BlockQ4_1, quantize_row_q4_1, dequantize_row_q4_1>(
        {.uses_importance = true,
         .vec_dot_type = DType::Q8_1,
         .gptq_grid = {.q_max = 15,
                       .has_offset = true,
                       .decode = decode_grid_q4_1,
                       .pack = pack_grid_q4_1}}),
    row<DType::Q5_0, BlockQ5_0, quantize_row_q5_0, dequantize_row_q5_0>(
        {.uses_importance = true,
         .vec_dot_type = DType::Q8_0,
         .gptq_grid =
             {.q_max = 31, .zero = 16, .decode = decode_grid_q5_0, .pack = pack_grid_q5_0}}),
    row<DType::Q5_1, BlockQ5_1, quantize_row_q5_1, dequantize_row_q5_1>(
        {.uses_importance = true,
         .vec_dot_type = DType::Q8_1,
         .gptq_grid = {.q_max = 31,
                       .has_offset = true,
                       .decode = decode_grid_q5_1,
                       .pack = pack_grid_q5_1}}),
    row<DType::Q8_0, BlockQ8_0, quantize_row_q8_0, dequantize_row_q8_0>(
        {.vec_dot_type = DType::Q8_0,
         .gptq_grid = {.q_min = 1,
                       .q_max = 255,
                       .zero = 128,
                       .decode = decode_grid_q8_0,
                       .pack = pack_grid_q8_0}}),
    row<DType::Q2_K, BlockQ2_K, quantize_row_q2_k, dequantize_row_q2_k>(
        {.has_search = true,
         .uses_importance = true,
         .vec_dot_type = DType::Q8_K,
         .gptq_grid =
             {.q_max = 3, .has_offset = true, .decode = decode_grid_q2_k, .pack = pack_grid_q2_k}}),
    row<DType::Q3_K, BlockQ3_K, quantize_row_q3_k, dequantize_row_q3_k>(
        {.has_search = true,
         .uses_importance = true,
         .vec_dot_type = DType::Q8_K,
         .gptq_grid = {.q_max = 7, .zero = 4, .decode = decode_grid_q3_k, .pack = pack_grid_q3_k}}),
    row<DType::Q4_K, BlockQ4_K, quantize_row_q4_k, dequantize_row_q4_k>(
        {.has_search = true,
         .uses_importance = true,
         .vec_dot_type = DType::Q8_K,
         .gptq_grid = {.q_max = 15,
                       .has_offset = true,
                       .decode = decode_grid_q4_k,
                       .pack = pack_grid_q4_k}}),
    row<DType::Q5_K, BlockQ5_K, quantize_row_q5_k, dequantize_row_q5_k>(
        {.has_search = true,
         .uses_importance = true,
         .vec_dot_type = DType::Q8_K,
         .gptq_grid = {.q_max = 31,
                       .has_offset = true,
                       .decode = decode_grid_q5_k,
                       .pack = pack_grid_q5_k}}),
    row<DType::Q6_K, BlockQ6_K, quantize_row_q6_k, dequantize_row_q6_k>(
        {.has_search = true,
         .uses_importance = true,
         .vec_dot_type = DType::Q8_K,
         .gptq_grid =
             {.q_max = 63, .zero = 32, .decode = decode_grid_q6_k, .pack = pack_grid_q6_k}}),
    row<DType::Q8_K, BlockQ8_K, quantize_row_q8_k, dequantize_row_q8_k>(
        {.vec_dot_type = DType::Q8_K}),
    row<DType::IQ4_NL, BlockIQ4_NL, quantize_row_iq4_nl, dequantize_row_iq4_nl>(
        {.has_search = true,
         .uses_importance = true,
         .vec_dot_type = DType::Q8_0,
         .gptq_grid = {.q_max = 15,
                       .table = kIQ4NLValues,
                       .decode = decode_grid_iq4_nl,
                       .pack = pack_grid_iq4_nl}}),
    // edgefit's sparse types (q_sparse.h): the input's exact zeros are the pruned weights
    row<DType::Q4_2OF4, BlockQ4_2of4, quantize_row_q4_2of4, dequantize_row_q4_2of4>(
        {.uses_importance = true, .vec_dot_type = DType::Q8_K}),
    row<DType::Q4_MASK50, BlockQ4_Mask50, quantize_row_q4_mask50, dequantize_row_q4_mask50>(
        {.uses_importance = true, .vec_dot_type = DType::Q8_K}),
    row<DType::Q4_MASK62, BlockQ4_Mask62, quantize_row_q4_mask62, dequantize_row_q4_mask62>(
        {.uses_importance = true, .vec_dot_type = DType::Q8_K}),
    row<DType::Q4_QMASK62, BlockQ4_QMask62, quantize_row_q4_qmask62, dequantize_row_q4_qmask62>(
        {.uses_importance = true, .vec_dot_type = DType::Q8_K}),
};

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

const FormatGrid* format_grid(DType type) {
  const QuantTraits* t = quant_traits(type);
  return t && t->gptq_grid.decode ? &t->gptq_grid : nullptr;
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
