// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), as PyTorch's
// torch.optim.AdamW implements it, for every parameter of a ParameterSet:
//   p ← p − lr·λ·p                                   (decay, decoupled from the gradient)
//   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
//   p ← p − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε)
// with t the 1-based step count. Moments are f32 (as PyTorch keeps them for f32 parameters) or,
// with state_bits = 8, 8-bit block-wise quantized (train/moments8.h, bitsandbytes' 8-bit Adam):
// 2 bytes per parameter instead of 8. The 8-bit step dequantizes a block of m and v, updates
// them and the parameters in f32 exactly as the f32 step does, then quantizes the new moments,
// so step 1 equals the f32 step and later steps differ only by the moments' rounding. The bias
// corrections are computed in double. Together with the learning-rate schedule
// (train/lr_schedule.h) and gradient clipping (train/grad_clip.h) this is one optimizer step;
// the state (step count, m, v) is what a resumable checkpoint must save besides the weights.
// The step runs on the thread pool (core/thread_pool.h), split by kMomentBlock-value block of
// each parameter: a fixed split whose blocks share nothing, so the bits do not depend on the
// thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "train/moments8.h"
#include "train/parameters.h"

namespace edgefit::train {

struct AdamWConfig {
  double beta1 = 0.9;          // first-moment decay
  double beta2 = 0.999;        // second-moment decay
  double eps = 1e-8;           // added to sqrt(v̂) (PyTorch's default)
  double weight_decay = 0.01;  // λ, multiplied by the step's learning rate (PyTorch's default)
  int state_bits = 32;         // moments in f32 (32) or 8-bit block-wise quantized (8)
};

class AdamW {
 public:
  // Throws Error for state_bits other than 32 and 8.
  explicit AdamW(AdamWConfig cfg = {});

  // One update of every parameter in `params` from its current grad, at learning rate `lr`.
  // The set's parameters must be the same (order and sizes) at every call.
  void step(ParameterSet& params, double lr);

  int64_t steps() const { return t_; }
  const AdamWConfig& config() const { return cfg_; }
  bool quantized() const { return cfg_.state_bits == 8; }
  // Moment buffers, per parameter in the set's order (for checkpoints and tests); the f32 ones
  // are empty with state_bits 8 and the 8-bit ones with 32. m8 holds m in the signed code, v8
  // sqrt(v) in the unsigned one.
  const std::vector<std::vector<float>>& first_moments() const { return m_; }
  const std::vector<std::vector<float>>& second_moments() const { return v_; }
  const std::vector<Moment8>& first_moments8() const { return m8_; }
  const std::vector<Moment8>& second_moments8() const { return v8_; }
  // Puts back a saved state (train/checkpoint.h): `steps` updates taken, and the moments per
  // parameter in the set's order (empty when no step was taken yet), in the optimizer's width.
  void restore(int64_t steps, std::vector<std::vector<float>> m, std::vector<std::vector<float>> v);
  void restore8(int64_t steps, std::vector<Moment8> m, std::vector<Moment8> v);

 private:
  AdamWConfig cfg_;                    // hyperparameters
  int64_t t_ = 0;                      // steps taken
  std::vector<std::vector<float>> m_;  // first moments, one buffer per parameter
  std::vector<std::vector<float>> v_;  // second moments, one buffer per parameter
  std::vector<Moment8> m8_;            // 8-bit first moments (state_bits 8)
  std::vector<Moment8> v8_;            // 8-bit sqrt of the second moments (state_bits 8)

  // One step of the kMomentBlock values of parameter `p` and its moments (updated in place) that
  // start at `begin` (a multiple of kMomentBlock; the last block may be short), with the step's
  // constants. Blocks are independent: the thread pool runs them in any order.
  struct StepConstants;
  void update_f32(const StepConstants& c, Parameter& p, std::vector<float>& m,
                  std::vector<float>& v, int64_t begin) const;
  void update_8bit(const StepConstants& c, Parameter& p, Moment8& m, Moment8& v,
                   int64_t begin) const;
};

}  // namespace edgefit::train
