#include "train/data_order.h"

#include <numeric>
#include <utility>

#include "core/error.h"

namespace edgefit::train {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += kGolden);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t SplitMix64::below(uint64_t bound) {
  // 2^64 mod bound values at the top of the range would be drawn once too often: redraw them.
  const uint64_t rem = (UINT64_MAX % bound + 1) % bound;
  uint64_t r = next();
  while (rem != 0 && r > UINT64_MAX - rem) r = next();
  return r % bound;
}

std::vector<int64_t> DataOrder::epoch(int64_t e) const {
  std::vector<int64_t> order(static_cast<size_t>(n_));
  std::iota(order.begin(), order.end(), int64_t{0});
  SplitMix64 rng(seed_ + static_cast<uint64_t>(e) * kGolden);
  for (int64_t i = n_ - 1; i > 0; --i)
    std::swap(order[static_cast<size_t>(i)], order[rng.below(static_cast<uint64_t>(i + 1))]);
  return order;
}

int64_t DataOrder::at(int64_t index) const {
  if (n_ <= 0) throw Error("no training examples");
  return epoch(index / n_)[static_cast<size_t>(index % n_)];
}

}  // namespace edgefit::train
