// Rotary position embedding for the Llama family, in both weight layouts (see formats/model.h):
// interleaved (llama.cpp GGUF llama/mistral, llama2.c: rotate pairs (2j, 2j+1)) and rotate-half
// (HF files, qwen2/qwen3 everywhere: rotate pairs (j, j + d/2)). Both use the frequency of pair j,
// θ_j = base^(-2j/d), optionally scaled per frequency (Llama-3 "rope_scaling", or a GGUF's
// `rope_freqs.weight` factors) or linearly in position.
#pragma once

#include <cstdint>
#include <vector>

#include "formats/model.h"

namespace edgefit {

class Rope {
 public:
  // `freq_factors`, when non-empty, holds head_dim/2 divisors of the frequencies (llama.cpp's
  // rope_freqs.weight); otherwise Llama-3 scaling is computed from cfg.rope_scaling.
  Rope(const ArchConfig& cfg, std::vector<float> freq_factors = {});

  // Rotates `n_heads` consecutive heads of `head_dim` floats at absolute position `pos`.
  void apply(float* x, int n_heads, int64_t pos) const;

  // apply() in two steps, for callers that rotate many vectors at one position (every layer's
  // q and k): angles() writes the head_dim/2 cosines and sines of position `pos` (computed in
  // double, rounded once), rotate() applies them. apply() is exactly angles() then rotate().
  void angles(int64_t pos, float* cos, float* sin) const;
  void rotate(float* x, int n_heads, const float* cos, const float* sin) const;

  int head_dim() const { return head_dim_; }
  const std::vector<float>& inv_freq() const { return inv_freq_; }

 private:
  int head_dim_;                 // rotated width per head (all of it, for these architectures)
  bool interleaved_;             // pair layout: (2j, 2j+1) when true, (j, j+d/2) when false
  float pos_scale_ = 1.0f;       // linear scaling: positions are multiplied by 1/factor
  std::vector<float> inv_freq_;  // head_dim/2 angular frequencies (radians per position)
};

}  // namespace edgefit
