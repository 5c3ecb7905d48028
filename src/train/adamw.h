// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), as PyTorch's
// torch.optim.AdamW implements it, for every parameter of a ParameterSet:
//   p ← p − lr·λ·p                                   (decay, decoupled from the gradient)
//   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
//   p ← p − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε)
// with t the 1-based step count. Moments are f32 (as PyTorch keeps them for f32 parameters);
// the bias corrections are computed in double. Together with the learning-rate schedule
// (train/lr_schedule.h) and gradient clipping (train/grad_clip.h) this is one optimizer step;
// the state (step count, m, v) is what a resumable checkpoint must save besides the weights.
#pragma once

#include <cstdint>
#include <vector>

#include "train/parameters.h"

namespace edgefit::train {

struct AdamWConfig {
  double beta1 = 0.9;          // first-moment decay
  double beta2 = 0.999;        // second-moment decay
  double eps = 1e-8;           // added to sqrt(v̂) (PyTorch's default)
  double weight_decay = 0.01;  // λ, multiplied by the step's learning rate (PyTorch's default)
};

class AdamW {
 public:
  explicit AdamW(AdamWConfig cfg = {}) : cfg_(cfg) {}

  // One update of every parameter in `params` from its current grad, at learning rate `lr`.
  // The set's parameters must be the same (order and sizes) at every call.
  void step(ParameterSet& params, double lr);

  int64_t steps() const { return t_; }
  const AdamWConfig& config() const { return cfg_; }
  // Moment buffers, per parameter in the set's order (for checkpoints and tests).
  const std::vector<std::vector<float>>& first_moments() const { return m_; }
  const std::vector<std::vector<float>>& second_moments() const { return v_; }
  // Puts back a saved state (train/checkpoint.h): `steps` updates taken, and the moments per
  // parameter in the set's order (empty when no step was taken yet).
  void restore(int64_t steps, std::vector<std::vector<float>> m, std::vector<std::vector<float>> v);

 private:
  AdamWConfig cfg_;                    // hyperparameters
  int64_t t_ = 0;                      // steps taken
  std::vector<std::vector<float>> m_;  // first moments, one buffer per parameter
  std::vector<std::vector<float>> v_;  // second moments, one buffer per parameter
};

}  // namespace edgefit::train
