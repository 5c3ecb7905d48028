// Learning rate per optimizer step: linear warm-up, then cosine decay (the schedule of
// transformers' get_cosine_schedule_with_warmup, with an optional floor):
//   step < warmup:  lr = max_lr · step / warmup
//   otherwise:      lr = min_lr + (max_lr − min_lr) · ½(1 + cos(π · min(1, (step − warmup) /
//                                                              (total − warmup))))
// `step` is 0-based (the step about to be taken), so the first warm-up step has lr 0 exactly as
// in transformers; steps past `total` stay at min_lr.
#pragma once

#include <cstdint>

namespace edgefit::train {

struct LrSchedule {
  double max_lr = 1e-3;  // peak learning rate, reached at the end of warm-up
  double min_lr = 0.0;   // floor the cosine decays to
  int64_t warmup = 0;    // warm-up steps
  int64_t total = 1;     // total steps (warm-up included)
};

double learning_rate(const LrSchedule& s, int64_t step);

}  // namespace edgefit::train
