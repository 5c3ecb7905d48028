#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace edgefit::train {

double learning_rate(const LrSchedule& s, int64_t step) {
  if (step < s.warmup) return s.max_lr * static_cast<double>(step) / static_cast<double>(s.warmup);
  const int64_t decay_steps = std::max<int64_t>(1, s.total - s.warmup);
  const double progress =
      std::min(1.0, static_cast<double>(step - s.warmup) / static_cast<double>(decay_steps));
  return s.min_lr + (s.max_lr - s.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace edgefit::train
