// One Llama-family transformer block for training: forward with saved activations, backward
// that turns the output gradient into the input gradient and accumulates every weight gradient.
//
//   xn1 = RMSNorm(x) · attn_norm
//   q = rope(qnorm(xn1·Wqᵀ + bq)),  k = rope(knorm(xn1·Wkᵀ + bk)),  v = xn1·Wvᵀ + bv
//   h = x + attention(q, k, v)·Woᵀ
//   xn2 = RMSNorm(h) · ffn_norm
//   y = h + (SiLU(xn2·Wgateᵀ) ⊙ xn2·Wupᵀ)·Wdownᵀ
// (biases: qwen2; per-head q/k norms: qwen3; both optional). The activations one backward needs
// are the BlockActivations below: about n · (4·d + 3·q_dim + 4·kv_dim + 3·d_ff) floats, which
// gradient checkpointing (train/train_model.h) keeps for one block at a time.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "formats/model.h"
#include "train/linear_layer.h"
#include "train/parameters.h"
#include "train/rope.h"

namespace edgefit::train {

// The parameters of block l; optional ones are nullptr (or a layer without bias) when absent.
// Norm gains and biases are always f32 Parameters (trainable in full training, a small frozen
// copy under LoRA); the seven matrices are LinearLayers (train/linear_layer.h).
struct BlockParams {
  Parameter* attn_norm = nullptr;  // [d] gain before attention
  LinearLayer q, k, v;             // {q_dim, d}, {kv_dim, d} ×2; qwen2 biases
  LinearLayer o;                   // {d, q_dim}
  Parameter* q_norm = nullptr;     // [head_dim] qwen3 per-head gain
  Parameter* k_norm = nullptr;     // [head_dim] qwen3 per-head gain
  Parameter* ffn_norm = nullptr;   // [d] gain before the FFN
  LinearLayer gate, up;            // {d_ff, d}
  LinearLayer down;                // {d, d_ff}
};

// Binds block `layer` for full training: every tensor a trainable Parameter of `params`,
// shapes checked against `cfg`. Throws Error.
BlockParams bind_block(ParameterSet& params, const ArchConfig& cfg, int layer);

// Binds block `layer` with frozen matrices (the views of `model`, any dequantizable stored type)
// and norm gains / biases from `small` (f32 copies of the model's 1-D tensors). Throws Error.
BlockParams bind_block_frozen(const Model& model, ParameterSet& small, const ArchConfig& cfg,
                              int layer);

// The frozen weight `name` {rows, cols} of `model` (any dequantizable, unpacked type). Throws
// Error naming the tensor otherwise.
const TensorView* bind_frozen(const Model& model, const std::string& name, int64_t rows,
                              int64_t cols);

// The seven LinearLayers of a block with their GGUF short names ("attn_q", …, "ffn_down").
std::vector<std::pair<const char*, LinearLayer*>> block_linears(BlockParams& p);

// What block_forward() saves for block_backward(), all row-major over n positions.
struct BlockActivations {
  int64_t n = 0;                        // positions held
  std::vector<float> x;                 // [n, d] block input
  std::vector<float> xn1, inv_rms1;     // [n, d] attention norm output; [n] its 1/rms
  std::vector<float> q_lin, inv_rms_q;  // [n, q_dim] q before its head norm; [n·heads] (qwen3)
  std::vector<float> k_lin, inv_rms_k;  // [n, kv_dim] k before its head norm; [n·kv_heads]
  std::vector<float> q, k, v;           // [n, q_dim], [n, kv_dim] ×2: attention inputs (roped)
  std::vector<float> att, lse;          // [n, q_dim] attention output; [heads, n] log-sum-exp
  std::vector<float> h;                 // [n, d] residual after attention
  std::vector<float> xn2, inv_rms2;     // [n, d] FFN norm output; [n] its 1/rms
  std::vector<float> gate, up, act;     // [n, d_ff] gate and up projections, SiLU(gate)·up

  void resize(const ArchConfig& cfg, int64_t n_positions);
};

// Runs the block on x [n, d] (positions 0 … n−1), saving activations into `a`, and writes the
// block output into y [n, d] (may not alias x).
void block_forward(const ArchConfig& cfg, const BlockParams& p, const RopeTable& rope,
                   const float* x, int64_t n, BlockActivations& a, float* y);

// From dy = d loss / d y, writes dx = d loss / d x [n, d] and adds every weight gradient to the
// parameters' grad. dx may alias dy.
void block_backward(const ArchConfig& cfg, const BlockParams& p, const RopeTable& rope,
                    const BlockActivations& a, const float* dy, float* dx);

}  // namespace edgefit::train
