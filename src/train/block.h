// One Llama-family transformer block for training: forward with saved activations, backward
// that turns the output gradient into the input gradient and accumulates every weight gradient.
//
//   xn1 = RMSNorm(x) · attn_norm
//   q = rope(qnorm(xn1·Wqᵀ + bq)),  k = rope(knorm(xn1·Wkᵀ + bk)),  v = xn1·Wvᵀ + bv
//   h = x + attention(q, k, v)·Woᵀ
//   xn2 = RMSNorm(h) · ffn_norm
//   y = h + (SiLU(xn2·Wgateᵀ) ⊙ xn2·Wupᵀ)·Wdownᵀ
// (biases: qwen2; per-head q/k norms: qwen3; both optional). The activations one backward needs
// are the BlockActivations below: about n · (d + 3·d_ff) floats, which gradient checkpointing
// (train/train_model.h) keeps for one block at a time; the backward's own working memory beyond
// them is one [n, d_ff] buffer.
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

// What block_forward() saves for block_backward(), all row-major over n positions: the FFN's
// [n, d_ff] intermediates (a matrix product each to recompute) and the residual h. Everything else
// the backward recomputes exactly (same ops, same inputs) into buffers it has already consumed:
// the block input x (the caller holds it, train/train_model.h), the norm outputs xn1 = RMSNorm(x)
// and xn2 = RMSNorm(h), q, k, v (the three projections of xn1, ~12 % of the block's forward at
// tinyllama's shape), and the attention output with its log-sum-exp (one attention forward).
struct BlockActivations {
  int64_t n = 0;                // positions held
  std::vector<float> inv_rms1;  // [n] attention norm's 1/rms
  std::vector<float> h;         // [n, d] residual after attention
  std::vector<float> inv_rms2;  // [n] FFN norm's 1/rms
  // [n, d_ff] gate and up projections and SiLU(gate)·up (each at least [n, d] and [n, q_dim]
  // long: the forward writes xn1 into gate, the attention output into up, q, k, v and then xn2
  // into act before they are computed). block_backward() reuses all three as its working
  // buffers, so it consumes them.
  std::vector<float> gate, up, act;

  // Sizes every buffer for n positions.
  void resize(const ArchConfig& cfg, int64_t n_positions);
};

// Runs the block on x [n, d] (positions 0 … n−1), saving activations into `a`, and writes the
// block output into y [n, d] (may not alias x; null: the output is not computed, as the
// backward's recomputation of a block's activations does not need it).
void block_forward(const ArchConfig& cfg, const BlockParams& p, const RopeTable& rope,
                   const float* x, int64_t n, BlockActivations& a, float* y);

// The inputs of q, k, v (xn1 [n, d]), o (att [n, q_dim]) and gate, up (xn2 [n, d]) of a block
// that block_forward() ran on x, recomputed bit for bit (with a.act, all four linear inputs),
// e.g. for a block observer.
void block_linear_inputs(const ArchConfig& cfg, const BlockParams& p, const RopeTable& rope,
                         const float* x, const BlockActivations& a, std::vector<float>& xn1,
                         std::vector<float>& att, std::vector<float>& xn2);

// From dy = d loss / d y [n, d] (overwritten with dx = d loss / d x) and the block's input x
// [n, d], adds every weight gradient to the parameters' grad. Consumes `a`: its [n, d_ff]
// buffers hold the backward's intermediate gradients (block_forward() refills them).
void block_backward(const ArchConfig& cfg, const BlockParams& p, const RopeTable& rope,
                    const float* x, BlockActivations& a, float* dy);

}  // namespace edgefit::train
