// The optimisation loop: one example (a token window) per step in the seeded order, forward +
// backward, global-norm clipping, AdamW at the scheduled learning rate, and a checkpoint every
// `checkpoint_every` steps. Steps are numbered globally, so run_steps(…, 0, k) followed by
// load_checkpoint and run_steps(…, k, n) equals run_steps(…, 0, n) bit for bit; that is how a
// killed run resumes (train/checkpoint.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "train/adamw.h"
#include "train/lr_schedule.h"
#include "train/teacher.h"
#include "train/train_model.h"

namespace edgefit::train {

struct TrainLoopConfig {
  LrSchedule schedule;           // learning rate per global step
  double clip_norm = 1.0;        // global gradient norm bound (<= 0: no clipping)
  uint64_t seed = 0;             // data order (train/data_order.h)
  bool recompute_blocks = true;  // gradient checkpointing per block
  // Under checkpointing, every k-th block input kept (TrainModel::set_block_input_spacing);
  // the same gradients for every k, ~(k−1)/k of a forward more per step.
  int block_input_spacing = 2;
  Teacher* teacher = nullptr;    // distillation teacher run on each window (null: LM loss only)
  double temperature = 2.0;      // distillation temperature
  double kd_weight = 1.0;        // share of the distillation loss (the rest cross-entropy)
  std::string checkpoint_path;   // "" : no checkpoints
  std::string run;               // run description stored in checkpoints (checkpoint.h)
  int64_t checkpoint_every = 0;  // steps between checkpoints (and one after the last step)
};

// What one step did, for progress lines.
struct StepReport {
  int64_t step = 0;      // global step index just taken
  double loss = 0;       // loss of its example before the update
  double grad_norm = 0;  // gradient norm before clipping
  double lr = 0;         // learning rate used
  int64_t tokens = 0;    // tokens in its example
};

// Runs global steps first … last−1 over `examples` and returns the step after the last one taken.
// `report` (optional) sees every step; returning false stops the run after that step (a time
// budget), with a checkpoint written first when checkpoints are on.
int64_t run_steps(TrainModel& model, AdamW& opt, const std::vector<std::vector<int32_t>>& examples,
                  const TrainLoopConfig& cfg, int64_t first, int64_t last,
                  const std::function<bool(const StepReport&)>& report = {});

}  // namespace edgefit::train
