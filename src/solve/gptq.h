// GPTQ (Frantar et al., 2022): quantize a linear layer's weight W column by column, and after
// each column push its rounding error onto the columns not yet quantized, weighted by the
// inverse Hessian of the layer's reconstruction error ‖(W − Q)·Xᵀ‖² (H = 2·XᵀX / n over the
// calibration inputs X). What one column gets wrong, the others correct for, as seen by the
// actual activations.
//
// Any block format of the traits table can be the target (gptq_grid.h): when GPTQ reaches the
// first column of a quantization block (32 or 256 columns), the format's own quantizer picks that
// block's scales/mins from the current, error-updated weights (with the Hessian diagonal as
// importance), then each column of the block is rounded to that fixed grid. So the output bytes
// are ordinary blocks of the target type that llama.cpp reads as they are.
//
// Pure math: no model, no files. Rows are independent given H, so they run in parallel.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace edgefit {

class ThreadPool;

// Accumulates H = 2·XᵀX / n for one input width, batch by batch (only the lower triangle is
// accumulated until finalize() mirrors it).
class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t width);
  // Adds the n rows of x[n, width].
  void add(const float* x, int64_t n);
  // Adds a Gram matrix Σ xxᵀ [width, width] (row-major; at least its lower triangle) of n rows
  // that the caller computed itself, e.g. with the runtime's faster matmul kernels.
  void add_gram(const float* gram, int64_t n);
  // Adds rows [r0, r1) of such a Gram matrix, given as block[(r − r0) · r1 + j] for j < r1 (only
  // j <= r is read: the lower triangle), without counting rows; count_rows() counts them once all
  // row blocks of a batch are in. Lets the caller skip the upper triangle's products.
  void add_gram_rows(const float* block, int64_t r0, int64_t r1);
  void count_rows(int64_t n) { count_ += n; }
  // H = 2·Σ xxᵀ / n, symmetric, [width, width] row-major. Further add() calls are an error.
  const std::vector<float>& finalize();
  int64_t width() const { return width_; }
  int64_t count() const { return count_; }                 // rows added so far
  const std::vector<float>& matrix() const { return h_; }  // Σ xxᵀ until finalize(), then H

 private:
  int64_t width_;         // input channels
  int64_t count_ = 0;     // rows accumulated
  bool final_ = false;    // finalize() ran
  std::vector<float> h_;  // [width, width]
};

struct GptqOptions {
  double percdamp = 0.01;      // dampening λ = percdamp · mean(diag H), added to the diagonal
  int block_size = 128;        // lazy-batch width in columns (raised to a whole number of the
                               // format's blocks)
  bool act_order = false;      // quantize columns by decreasing H diagonal; block scales are
                               // then chosen up front from the original weights ("static groups"),
                               // since GGUF has no g_idx to store a permutation
  ThreadPool* pool = nullptr;  // worker threads (null: the global pool)
};

struct GptqResult {
  std::vector<uint8_t> bytes;  // [rows, quant_row_size(type, cols)]: valid blocks of `type`
  double proxy_loss = 0;       // Σ (w − q)² / Hinv[i,i]² / 2: GPTQ's own error estimate
  double damp = 0;             // λ actually used (raised when H was not positive definite)
};

// True when gptq_quantize can target `type`.
bool gptq_supports(DType type);

// What GPTQ needs from a Hessian, computed once and shared by every weight fed by the same input
// (q/k/v; gate/up).
struct GptqHessian {
  int64_t n = 0;              // columns
  std::vector<float> diag;    // H's diagonal before dampening (the scale search's importance)
  std::vector<int32_t> perm;  // processing order of the columns (identity without act-order)
  std::vector<float> u;       // [n, n] upper Cholesky factor of (P(H + λI)Pᵀ)⁻¹, P = perm
  double damp = 0;            // λ actually used (raised when H was not positive definite)
};

// Dampens, orders and inverts H [n, n] (row-major, symmetric; e.g. HessianAccumulator's).
// Throws Error when H stays singular even after raising the dampening 1000-fold.
GptqHessian gptq_prepare(const float* hessian, int64_t n, const GptqOptions& options = {});

// Quantizes W [rows, cols] (row-major f32; cols == h.n). Throws Error for an unsupported type or a
// cols that is not a whole number of the type's blocks.
GptqResult gptq_quantize(const float* w, int64_t rows, int64_t cols, const GptqHessian& h,
                         DType type, const GptqOptions& options = {});
// gptq_prepare + gptq_quantize.
GptqResult gptq_quantize(const float* w, int64_t rows, int64_t cols, const float* hessian,
                         DType type, const GptqOptions& options = {});

// The upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ·U), which GPTQ's updates read row by row. H is
// [n, n] row-major; `damp` is added to its diagonal first. Returns false when H + damp·I is not
// positive definite. U is written row-major with zeros below the diagonal.
bool inverse_cholesky_upper(const float* h, int64_t n, double damp, std::vector<float>& u);

// ‖(W − Q)·Xᵀ‖²-style proxy: tr((W−Q) H (W−Q)ᵀ) for Q = dequantized `bytes` of `type`. Used by
// tests and to compare methods on the same statistics.
double hessian_error(const float* w, const uint8_t* bytes, DType type, int64_t rows, int64_t cols,
                     const float* hessian);

}  // namespace edgefit
