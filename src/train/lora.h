// LoRA adapters on a frozen base (Hu et al. 2021, initialised as PEFT does): for each chosen
// projection W {n_out, n_in} of every block, A {r, n_in} ~ U(−1/√n_in, 1/√n_in) (PEFT's
// kaiming_uniform with a = √5) and B {n_out, r} = 0, so training starts from the base model
// exactly; the layer computes x·Wᵀ + (alpha/r)·(x·Aᵀ)·Bᵀ (train/linear_layer.h).
//
// Adapter tensors are named as llama.cpp's adapter GGUFs name them, "<base weight>.lora_a" and
// "<base weight>.lora_b" (e.g. "blk.0.attn_q.weight.lora_a"), with PyTorch-order shapes {r, n_in}
// and {n_out, r}, so the adapter export (next step) writes them as they are.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/block.h"
#include "train/parameters.h"

namespace edgefit::train {

struct LoraConfig {
  int rank = 16;        // r
  double alpha = 32.0;  // the adapter's output is scaled by alpha / r
  // Projections that get adapters: any of q, k, v, o, gate, up, down.
  std::vector<std::string> targets = {"q", "k", "v", "o", "gate", "up", "down"};
  uint64_t seed = 0;  // A's initialisation (train/data_order.h's SplitMix64)
};

// Creates the adapters in `params` (which must not gain parameters afterwards while the blocks
// hold pointers into it) and attaches them to `blocks`. Throws Error for an unknown target or
// a rank outside 1 … min(n_in, n_out).
void attach_lora(std::vector<BlockParams>& blocks, ParameterSet& params, const LoraConfig& cfg);

}  // namespace edgefit::train
