// Picks the next token from a row of logits: greedy (temperature 0) or temperature sampling
// restricted by top-k and top-p (nucleus), with a seeded generator so runs are reproducible.
#pragma once

#include <cstdint>
#include <random>
#include <span>

namespace edgefit {

struct SamplerConfig {
  float temperature = 0.8f;  // <= 0 means greedy (argmax)
  int top_k = 40;            // keep the k most likely tokens (<= 0: all)
  float top_p = 0.95f;       // then the smallest set whose probability reaches p (>= 1: all)
  uint64_t seed = 1;         // random seed for sampling
};

class Sampler {
 public:
  explicit Sampler(SamplerConfig cfg);
  // Returns the chosen token id. `logits` is one row of vocab-size floats.
  int32_t sample(std::span<const float> logits);

 private:
  SamplerConfig cfg_;    // settings
  std::mt19937_64 rng_;  // seeded generator (deterministic across platforms)
};

// Index of the largest logit (the lowest index on ties).
int32_t argmax(std::span<const float> logits);

}  // namespace edgefit
