// Whole-model training forward and backward for the Llama family (llama, mistral, qwen2 with
// q/k/v biases, qwen3 with q/k norms), on f32 copies of the weights (train/parameters.h):
//
//   embedding → blocks (train/block.h) → RMSNorm → output head (tied or not) → loss
//
// The loss is the reference's next-token cross-entropy or the distillation KL against given
// teacher logits (train/losses.h). forward_backward() accumulates d loss / d parameter into every
// Parameter::grad, in the model's own names and q/k row layout.
//
// Gradient checkpointing per block. Without it the forward keeps every block's activations
// (BlockActivations, ~n·(d + 3ff) floats each, plus every block input) until the backward. With it
// the forward keeps every k-th block's input [n, d] (set_block_input_spacing; 2 by default) and
// the backward re-runs one block's forward (without its output) just before its backward, after
// recomputing that block's input from the kept one below when it was not kept (the last block
// needs neither: the forward left its activations and input in place). Activation memory is one
// block's worth plus ~L/k inputs, freed block by block as the backward passes, at the price of a
// second forward and (k−1)/k of a third. Every op is deterministic (one writer per output, fixed
// order; see train/linear.h), so checkpointed gradients equal the stored-activation ones bit for
// bit, at every spacing.
//
// LoRA mode (the second constructor) keeps the base frozen where it is: the matrices, the
// embedding table and the head stay the model's mmapped views in their stored (possibly
// quantized) type, run forward through model/matmul.h and backward row by row
// (train/linear_layer.h); only the norm gains and biases are copied to f32 (a few KB per block).
// params() then holds just the adapters. Memory: the mapped base, the adapters and their
// gradients (sized block by block after params().release_grads(), see forward_backward) and
// optimizer moments (8-bit in recovery), and the activations above; measured in
// docs/training.md ("Memory").
//
// The room around this class (src/train/, below core, formats and model; used by the CLI):
//   ops            linear.h, linear_layer.h (frozen/trainable + LoRA), embedding.h, rms_norm.h,
//                  rope.h, attention.h, swiglu.h, losses.h — forward with saved state, backward
//   model          block.h (one block), train_model.h (this), parameters.h, lora.h
//   optimisation   adamw.h (moments8.h: 8-bit moments), lr_schedule.h, grad_clip.h, data_order.h,
//                  train_loop.h
//   recovery       teacher.h (teacher logits on the fly; LossSpec::kd_weight mixes LM and KD),
//                  checkpoint.h (resume bit for bit), lora_gguf.h (llama.cpp adapter files),
//                  lora_peft.h (PEFT folders), merge_lora.h (adapters folded into the base GGUF,
//                  re-quantized to its types); recover.h runs them as one recovery (the CLI's
//                  `edgefit recover`, a recipe's lora step in pipeline/recover_step.h). At run
//                  time (eval, generate) adapters are applied by model/lora_adapter.h.
// f32 products: train/gemm.h (per ISA). Not built yet (issue 20): bf16 matmuls.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "formats/model.h"
#include "model/rope.h"
#include "train/block.h"
#include "train/lora.h"
#include "train/parameters.h"

namespace edgefit::train {

// Which loss forward_backward() takes.
struct LossSpec {
  const float* teacher_logits = nullptr;  // null: cross-entropy; else [n, vocab] for distillation
  double temperature = 1.0;               // distillation temperature T
  // With a teacher: loss = kd_weight · KL + (1 − kd_weight) · cross-entropy (recovery mixes the
  // two; 1 is pure distillation as in ../shared/ref/grad).
  double kd_weight = 1.0;
};

class TrainModel {
 public:
  // Copies the weights of `model` to f32 parameters and binds them. Throws Error when a tensor is
  // missing, misshapen, or of a type that cannot be dequantized.
  explicit TrainModel(const Model& model);
  // LoRA on the frozen base `model` (which must outlive this object): adapters per `lora`. The
  // frozen matrices' forward products run with `matmul` (default: the runtime kernels on the
  // process's best table; tests pass the f32 reference), per instance like model/Transformer.
  TrainModel(const Model& model, const LoraConfig& lora, MatmulChoice matmul = {});

  const ArchConfig& config() const { return cfg_; }
  // The trained parameters: every weight (full training) or the adapters (LoRA).
  ParameterSet& params() { return params_; }
  bool is_lora() const { return frozen_embd_ != nullptr; }

  // Forward and backward over one sequence `ids` (positions 0 … n−1, n >= 2): returns the loss
  // and adds its gradient to every parameter's grad (call params().zero_grad() or, cheaper in
  // memory, params().release_grads() first for a fresh gradient: a released grad counts as zero
  // and a LoRA adapter's is sized only when the backward reaches its block, while each block's
  // input is freed once its backward is done). With `checkpoint`, activations are recomputed
  // block by block (see above).
  double forward_backward(std::span<const int32_t> ids, const LossSpec& loss, bool checkpoint);

  // The loss alone (no gradients), e.g. for finite differences or validation.
  double loss(std::span<const int32_t> ids, const LossSpec& loss);

  // Logits [n, vocab] of the sequence, as the training forward computes them.
  std::vector<float> logits(std::span<const int32_t> ids);

  // Gradient checkpointing keeps every k-th block input (and the last block's) from the forward
  // and recomputes the others from the kept one below when the backward reaches them: ~L/k + 2
  // inputs of [n, d] held instead of L + 1, for k − 1 extra block forwards per k blocks. k = 1
  // keeps all. Gradients are bit-identical for every k. Throws Error for k < 1.
  void set_block_input_spacing(int k);
  int block_input_spacing() const { return block_input_spacing_; }

  // The inputs of a block's linear layers, [n, width] each, as the forward computed them.
  struct BlockInputs {
    int64_t n;                   // positions
    std::span<const float> xn1;  // q, k, v input [n, d]
    std::span<const float> att;  // o input [n, q_dim]
    std::span<const float> xn2;  // gate, up input [n, d]
    std::span<const float> act;  // down input [n, d_ff]
  };
  // Called after every block's forward with its layer and its linear layers' inputs, e.g. to
  // collect GPTQ's Hessians for the merged export; empty: none.
  using BlockObserver = std::function<void(int layer, const BlockInputs& in)>;
  void set_block_observer(BlockObserver fn) { observer_ = std::move(fn); }

 private:
  // Runs embedding and all blocks, leaving the final hidden states in xs_.back(); keeps every
  // block's activations in acts_ unless `checkpoint` (then only acts_[0] is used as scratch).
  // Under `checkpoint`, only the inputs keeps_input() names stay in xs_ (the others are freed
  // once their block has run).
  void forward_blocks(std::span<const int32_t> ids, bool checkpoint);
  // Whether the forward keeps block l's input until the backward.
  bool keeps_input(int64_t l, bool checkpoint) const;
  // Refills xs_[s + 1 … l] by running blocks s … l−1 from the highest kept input xs_[s] below l.
  void recompute_input(int64_t l, int64_t n);
  // Final norm of xs_.back() into xf_, saving its statistics.
  void final_norm(int64_t n);
  // Output head on xf_ and the loss, kHeadRows positions at a time (their logits and gradient
  // are the only vocab-wide buffers: at tinyllama's 32000 words a full [256, vocab] pair was
  // 66 MB, a 32-row pair is 8 MB). With `dx` it also writes d loss / d xf_ [n, d] there and adds
  // the head's gradients.
  double head_loss(std::span<const int32_t> ids, const LossSpec& loss, float* dx);
  void check_ids(std::span<const int32_t> ids) const;
  void check_config(const Model& model) const;

  // Positions per head/loss chunk: the chunk's logits and gradient are [32, vocab] (4 MB each at
  // 32000 words). The head's backward dequantizes it once per chunk (8 times per 256 tokens,
  // where 128-row chunks would do it twice): ~3 % of a polyglot step, ~2 % of a tinyllama one,
  // for 25 MB less peak memory at tinyllama's vocabulary.
  static constexpr int64_t kHeadRows = 32;

  ArchConfig cfg_;                           // hyperparameters
  ParameterSet params_;                      // trained f32 values and gradients
  ParameterSet small_;                       // LoRA: f32 copies of the frozen norms and biases
  Rope rope_;                                // the model's rotation (layout, frequencies)
  std::unique_ptr<RopeTable> rope_table_;    // angles for the current sequence length
  std::vector<BlockParams> blocks_;          // per-block parameter bindings
  Parameter* tok_embd_ = nullptr;            // {vocab, d} trainable table (full training)
  const TensorView* frozen_embd_ = nullptr;  // {vocab, d} frozen table (LoRA)
  LinearLayer head_;                         // {vocab, d} output head (the table when tied)
  Parameter* output_norm_ = nullptr;         // [d]
  std::vector<std::vector<float>> xs_;       // block inputs [n, d] (empty: not kept); xs_[L] = out
  int block_input_spacing_ = 2;              // see set_block_input_spacing()
  std::vector<BlockActivations> acts_;       // saved activations (one when checkpointing)
  std::vector<float> xf_, inv_rms_f_;        // final norm output [n, d] and its 1/rms [n]
  BlockObserver observer_;                   // see set_block_observer()
};

}  // namespace edgefit::train
