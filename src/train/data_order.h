// Deterministic data order: which training example comes when, from a seed alone, identical on
// every platform and library (std::shuffle and the std distributions are not specified
// bit for bit, so they are not used). A resumed run therefore sees the same examples in the same
// order as an uninterrupted one.
//
// Random numbers come from SplitMix64 (Steele, Lea & Flood 2014; Vigna's reference code), the
// order of epoch e is a Fisher–Yates shuffle of 0 … n−1 drawn from a SplitMix64 seeded with
// seed + e · 0x9E3779B97F4A7C15, with unbiased bounded draws (rejection of the last partial
// range).
#pragma once

#include <cstdint>
#include <vector>

namespace edgefit::train {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  // Uniform in [0, bound) for bound >= 1, without modulo bias.
  uint64_t below(uint64_t bound);

 private:
  uint64_t state_;  // advanced by the golden-ratio increment per draw
};

class DataOrder {
 public:
  DataOrder(int64_t n_examples, uint64_t seed) : n_(n_examples), seed_(seed) {}
  // The permutation of 0 … n−1 used in epoch `epoch` (0-based).
  std::vector<int64_t> epoch(int64_t epoch) const;
  // The example used at global position `index` (epoch index / n, slot index % n).
  int64_t at(int64_t index) const;

 private:
  int64_t n_;      // examples per epoch
  uint64_t seed_;  // the run's seed
};

}  // namespace edgefit::train
