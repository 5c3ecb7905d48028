// RoPE forward and backward for training, in either q/k row layout the model records
// (ArchConfig::rope_interleaved: pairs (2j, 2j+1) as in llama.cpp GGUFs, or (j, j + d/2) as in
// Hugging Face files; see formats/qk_permute.h). The rotation itself is model/rope.h's, so the
// training forward matches inference exactly; its backward is the inverse rotation (a rotation's
// transpose), i.e. the same call with the sines negated.
#pragma once

#include <cstdint>
#include <vector>

#include "model/rope.h"

namespace edgefit::train {

class RopeTable {
 public:
  // Angles of positions 0 … n_positions-1 for `rope`, computed once per sequence length.
  RopeTable(const Rope& rope, int64_t n_positions);

  // Rotates x[t, :] (n_heads heads of head_dim) by position t's angles, for t < n.
  void forward(float* x, int64_t n, int n_heads) const;
  // The gradient through forward(): rotates dx[t, :] back by position t's angles.
  void backward(float* dx, int64_t n, int n_heads) const;

  int64_t n_positions() const { return n_positions_; }

 private:
  const Rope* rope_;            // the model's rotation (layout and frequencies)
  int64_t n_positions_;         // positions the table covers
  int half_;                    // head_dim / 2
  std::vector<float> cos_;      // [n_positions, half]
  std::vector<float> sin_;      // [n_positions, half]
  std::vector<float> neg_sin_;  // −sin_, for the inverse rotation
};

}  // namespace edgefit::train
