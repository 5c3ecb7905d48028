#include "train/linear.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/float_simd.h"
#include "model/matmul.h"
#include "quant/quant_traits.h"
#include "train/gemm.h"
#include "train/gemm_bf16.h"
#include "train/gemm_bf16_unpack.h"

namespace edgefit::train {

float dot_f32(const float* a, const float* b, int64_t n) {
  std::array<float, 8> acc{};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  for (int l = 0; i < n; ++i, ++l) acc[l] += a[i] * b[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// A layer with a single block of outputs (LoRA's A: r rows) would be one task and leave the other
// threads idle, so such products also split the other side into blocks: tokens for the forward,
// input columns for the weight gradient. The split is fixed by the shapes, never by the thread
// count, so the bits still do not depend on it.
constexpr int64_t kOutBlock = 64, kTokenBlock = 64, kColumnBlock = 256;

void linear_forward(const float* w, const float* b, int64_t n_out, int64_t n_in, const float* x,
                    int64_t n, float* y, float alpha, bool accumulate) {
  // Tasks own blocks y[t0:t1, o0:o1] = x[t0:t1] · W[o0:o1]ᵀ (+ b).
  const GemmTable& gemm = gemm_table();
  const int64_t n_o = (n_out + kOutBlock - 1) / kOutBlock;
  const int64_t tb = n_o > 1 ? std::max<int64_t>(n, 1) : kTokenBlock;
  const int64_t n_t = (n + tb - 1) / tb;
  ThreadPool::global().parallel_for(n_o * n_t, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t task = k0; task < k1; ++task) {
      const int64_t o0 = task / n_t * kOutBlock, o1 = std::min(n_out, o0 + kOutBlock);
      const int64_t t0 = task % n_t * tb, t1 = std::min(n, t0 + tb);
      gemm.nt(t1 - t0, o1 - o0, n_in, alpha, x + t0 * n_in, n_in, w + o0 * n_in, n_in,
              y + t0 * n_out + o0, n_out, accumulate);
      if (b)
        for (int64_t t = t0; t < t1; ++t)
          for (int64_t o = o0; o < o1; ++o) y[t * n_out + o] += b[o];
    }
  });
}

namespace {

// The frozen weight W {n_out, n_in} of linear_backward_input() as tiles of rows × columns: F32
// read in place, any other dequantizable type expanded into a task's buffer (only the tile's
// columns of each row).
struct WeightTiles {
  const TensorView& w;
  bool direct;           // F32, contiguous: no buffer
  const QuantTraits* q;  // the stored type's dequantizer (when not direct)
  int64_t block;         // the format's block size (1 when direct): column chunks align to it
  DequantRowsFn fast;    // the AVX-512 dequantizer of the type (same bits), or nullptr

  explicit WeightTiles(const TensorView& weight)
      : w(weight),
        direct(weight.dtype == DType::F32 && weight.is_contiguous() && weight.packing == 0),
        q(direct ? nullptr : quant_traits(weight.dtype)),
        block(direct ? 1 : (q ? q->block_size : 1)),
        fast(!direct && kernels::float_simd() == kernels::FloatSimd::kAvx512
                 ? dequantize_rows_avx512(weight.dtype)
                 : nullptr) {
    if (!direct && (q == nullptr || q->dequantize_row == nullptr || w.packing != 0))
      throw Error("cannot dequantize weights of type " + std::string(dtype_name(w.dtype)));
  }

  // W[o0 : o0 + rows, i0 : i0 + cols] as f32 with its row stride: in place, or dequantized into
  // buf (rows × cols floats).
  const float* tile(int64_t o0, int64_t rows, int64_t i0, int64_t cols, float* buf,
                    int64_t& stride) const {
    if (direct) {
      stride = w.shape[1];
      return reinterpret_cast<const float*>(w.row(o0)) + i0;
    }
    const size_t skip = static_cast<size_t>(i0 / block * q->type_size);
    if (fast) {
      fast(w.row(o0) + skip, w.row(1) - w.row(0), rows, cols, buf);
    } else {
      for (int64_t r = 0; r < rows; ++r)
        q->dequantize_row(w.row(o0 + r) + skip, buf + r * cols, cols);
    }
    stride = cols;
    return buf;
  }
};

}  // namespace

void linear_backward_input(const TensorView& w, const float* dy, int64_t n, float* dx,
                           bool accumulate, TrainProducts products) {
  const int64_t n_out = w.shape[0], n_in = w.shape[1];
  const WeightTiles weight(w);
  // Tasks own tiles dx[token block, column chunk]: kTokens tokens × a whole number of the
  // format's blocks (>= kColumns columns). Each walks the weight's rows row_block at a time,
  // dequantizing only its columns of them, and adds dy[tokens, rows] · W[rows, columns]. So every
  // weight element is dequantized once per token block (twice at context 256; it was once per 32
  // tokens), and every dx element has one writer summing the row blocks in order.
  // The bf16 path takes 256 rows per block: an AMX block of C is loaded and stored once per
  // 16 pairs of rows, so longer row blocks keep its accumulators in tiles longer.
  constexpr int64_t kTokens = 128, kColumns = 256;
  const bool bf16 = products == TrainProducts::kBf16;
  const int64_t row_block = bf16 ? 256 : 64;
  const int64_t blck = weight.block;
  const int64_t cw = std::min(n_in, (kColumns + blck - 1) / blck * blck);
  const int64_t n_cols = (n_in + cw - 1) / cw;
  // Wide bf16 products (8 column chunks or more: enough tasks for the pool) take twice the tokens
  // per task, so each weight tile is dequantized once per 256 tokens, not twice. The split does
  // not change any dx element's sum (row blocks, then pairs, in order), only who computes it.
  const int64_t tokens = bf16 && n_cols >= 8 ? 2 * kTokens : kTokens;
  const int64_t n_toks = (n + tokens - 1) / tokens;
  const GemmTable& gemm = gemm_table();
  const Bf16GemmTable& gemm16 = bf16_gemm_table();
  // dy as bf16 pairs once for all tasks, on the pool by rows (row blocks start at even rows:
  // row_block is even).
  const int64_t dy_pairs = (n_out + 1) / 2;
  std::vector<uint32_t> dy16(bf16 ? static_cast<size_t>(n * dy_pairs) : 0);
  if (bf16)
    ThreadPool::global().parallel_for(n, 16, [&](int64_t r0, int64_t r1) {
      pack_bf16_rows(dy + r0 * n_out, r1 - r0, n_out, n_out, dy16.data() + r0 * dy_pairs);
    });
  // Block-quantized tiles (whole blocks: cw and n_in are multiples of the block) go straight to
  // bf16 where the table has a fused packing for the type.
  const PackBQuantFn fused =
      bf16 && !weight.direct && n_in % blck == 0 ? gemm16.pack_b_quant(w.dtype) : nullptr;
  ThreadPool::global().parallel_for(n_cols * n_toks, 1, [&](int64_t b, int64_t e) {
    // The f32 tile buffer, unless the weight is read in place or packed straight to bf16.
    std::vector<float> buf(weight.direct || fused ? 0 : static_cast<size_t>(row_block * cw));
    // The weight tile [row_block, cw] as bf16 pairs.
    std::vector<uint32_t> w16(bf16 ? static_cast<size_t>(row_block / 2 * cw) : 0);
    for (int64_t task = b; task < e; ++task) {
      const int64_t t0 = task / n_cols * tokens, t1 = std::min(n, t0 + tokens);
      const int64_t i0 = task % n_cols * cw, i1 = std::min(n_in, i0 + cw), cols = i1 - i0;
      float* dxs = dx + t0 * n_in + i0;
      for (int64_t o0 = 0; o0 < n_out; o0 += row_block) {
        const int64_t rows = std::min(row_block, n_out - o0);
        const float* dys = dy + t0 * n_out + o0;
        const bool add = accumulate || o0 > 0;
        if (bf16) {
          if (fused) {  // dequantized straight into bf16 pairs
            const int64_t skip = i0 / weight.block * weight.q->type_size;
            fused(w.row(o0) + skip, w.row(1) - w.row(0), rows, cols, w16.data());
          } else {
            int64_t stride = 0;
            const float* tile = weight.tile(o0, rows, i0, cols, buf.data(), stride);
            gemm16.pack_b(tile, rows, cols, stride, w16.data());
          }
          gemm16.nn(t1 - t0, cols, (rows + 1) / 2, dy16.data() + t0 * dy_pairs + o0 / 2, dy_pairs,
                    w16.data(), cols, dxs, n_in, add);
        } else {
          int64_t stride = 0;
          const float* tile = weight.tile(o0, rows, i0, cols, buf.data(), stride);
          gemm.nn(t1 - t0, cols, rows, 1.0f, dys, n_out, tile, stride, dxs, n_in, add);
        }
      }
    }
  });
}

void linear_backward_weight(const float* x, const float* dy, int64_t n, int64_t n_out, int64_t n_in,
                            float* dw, float* db) {
  // Tasks own blocks dW[o0:o1, i0:i1] += dy[:, o0:o1]ᵀ · x[:, i0:i1] (the bias with i0 = 0).
  const GemmTable& gemm = gemm_table();
  const int64_t n_o = (n_out + kOutBlock - 1) / kOutBlock;
  const int64_t cb = n_o > 1 ? n_in : kColumnBlock;
  const int64_t n_c = (n_in + cb - 1) / cb;
  ThreadPool::global().parallel_for(n_o * n_c, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t task = k0; task < k1; ++task) {
      const int64_t o0 = task / n_c * kOutBlock, o1 = std::min(n_out, o0 + kOutBlock);
      const int64_t i0 = task % n_c * cb, i1 = std::min(n_in, i0 + cb);
      gemm.tn(o1 - o0, i1 - i0, n, 1.0f, dy + o0, n_out, x + i0, n_in, dw + o0 * n_in + i0, n_in,
              true);
      if (db && i0 == 0)
        for (int64_t o = o0; o < o1; ++o) {
          double s = 0;
          for (int64_t t = 0; t < n; ++t) s += dy[t * n_out + o];
          db[o] += static_cast<float>(s);
        }
    }
  });
}

TensorView f32_matrix_view(const float* w, int64_t n_out, int64_t n_in) {
  const int64_t shape[2] = {n_out, n_in};
  return TensorView::contiguous(DType::F32, shape, w);
}

}  // namespace edgefit::train
