// Weight repacking at load time (kernels.h): Q4_0 rows → PackedQ4_0Chunk rows, and back.
#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace edgefit::kernels {

namespace {

constexpr int64_t kChunkWeights = 16 * quant::kQK;  // 512 weights per packed chunk

}  // namespace

const FormatKernels* KernelDispatch::find(const TensorView& w) const {
  if (w.packing == 0) return find(w.dtype);
  if (w.packing == kPackingQ4_0x16 && w.dtype == DType::Q4_0 && q4_0_x16.gemm != nullptr)
    return &q4_0_x16;
  return nullptr;
}

bool can_repack(const KernelDispatch& kd, const TensorView& w) {
  return kd.q4_0_x16.gemm != nullptr && w.dtype == DType::Q4_0 && w.packing == 0 && w.ndim == 2 &&
         w.row_size() >= kChunkWeights && w.is_contiguous();
}

TensorView repack_weight(const TensorView& w, uint8_t* dst) {
  if (w.dtype != DType::Q4_0 || w.packing != 0 || w.ndim != 2 || !w.is_contiguous())
    throw Error("repack_weight: only contiguous 2-D Q4_0 weights can be repacked, not " +
                std::string(dtype_name(w.dtype)) + " " + w.shape_string());
  const int64_t chunks_per_row = w.row_size() / kChunkWeights;
  const size_t packed_bytes = static_cast<size_t>(chunks_per_row) * sizeof(PackedQ4_0Chunk);
  ThreadPool::global().parallel_for(w.n_rows(), 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const auto* blocks = reinterpret_cast<const quant::BlockQ4_0*>(w.row(r));
      uint8_t* row_out = dst + r * w.row_bytes();
      auto* out = reinterpret_cast<PackedQ4_0Chunk*>(row_out);
      // A tail of fewer than 16 blocks stays in ggml's layout, at the same offset.
      std::memcpy(row_out + packed_bytes, w.row(r) + packed_bytes, w.row_bytes() - packed_bytes);
      for (int64_t c = 0; c < chunks_per_row; ++c) {
        PackedQ4_0Chunk chunk;
        for (int l = 0; l < 16; ++l) {
          const quant::BlockQ4_0& b = blocks[16 * c + l];
          for (int g = 0; g < 4; ++g) std::memcpy(chunk.qs[g][l], b.qs + 4 * g, 4);
          chunk.d[l] = b.d;
        }
        std::memcpy(&out[c], &chunk, sizeof chunk);
      }
    }
  });
  TensorView v = w;
  v.data = dst;
  v.packing = kPackingQ4_0x16;
  return v;
}

void unpack_q4_0_x16_row(const void* packed_row, int64_t n, quant::BlockQ4_0* out) {
  const auto* chunks = static_cast<const PackedQ4_0Chunk*>(packed_row);
  const int64_t full = n / kChunkWeights;
  std::memcpy(out + 16 * full, &chunks[full],
              static_cast<size_t>(n / quant::kQK - 16 * full) * sizeof(quant::BlockQ4_0));
  for (int64_t c = 0; c < full; ++c) {
    PackedQ4_0Chunk chunk;
    std::memcpy(&chunk, &chunks[c], sizeof chunk);
    for (int l = 0; l < 16; ++l) {
      quant::BlockQ4_0& b = out[16 * c + l];
      for (int g = 0; g < 4; ++g) std::memcpy(b.qs + 4 * g, chunk.qs[g][l], 4);
      b.d = chunk.d[l];
    }
  }
}

}  // namespace edgefit::kernels
