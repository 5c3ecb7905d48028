// Training checkpoints that survive a kill: the trained parameters, AdamW's step count and
// moments, and the index of the next step, in one safetensors file written atomically
// (core/atomic_file.h: a kill mid-write leaves the previous checkpoint intact).
//
// Nothing else is needed to resume bit for bit: the data order is a pure function of the seed
// and the step (train/data_order.h), the schedule of the step (train/lr_schedule.h), and every
// op is deterministic, so a run resumed from step k ends with the same bytes as one that never
// stopped (tested). Gradients are not saved: each step starts from zero.
//
// Layout: tensor "<name>" holds a parameter's values, "<name>.adam_m" / "<name>.adam_v" its f32
// moments (absent before the first step); with 8-bit moments (train/moments8.h) instead
// "<name>.adam_m8" / "<name>.adam_v8" (U8 codes, the parameter's shape) and their
// "….absmax" (F32, one per block), exactly as the optimizer holds them. Metadata
// "edgefit.train.next_step", "edgefit.train.adam_steps" and "edgefit.train.optim_bits" (32 or 8;
// absent: 32) as decimal strings, and "edgefit.train.kind" = "checkpoint".
#pragma once

#include <cstdint>
#include <string>

#include "train/adamw.h"
#include "train/parameters.h"

namespace edgefit::train {

// Writes `params`' values and `opt`'s state with `next_step` to `path` atomically. `run` (any
// text, kept as metadata "edgefit.train.run") describes the settings the steps depend on, so a
// resume can refuse a checkpoint made with other ones.
void save_checkpoint(const std::string& path, const ParameterSet& params, const AdamW& opt,
                     int64_t next_step, const std::string& run = "");

// The "edgefit.train.run" text of a checkpoint ("" when absent). Throws Error for a file that is
// not a checkpoint.
std::string checkpoint_run(const std::string& path);

// Restores `params`' values and `opt`'s state from `path` and returns the next step. The file
// must hold exactly the parameters of `params` with the same shapes, and moments of `opt`'s
// width; throws Error (naming the file and the tensor) otherwise, leaving `params` and `opt`
// unchanged.
int64_t load_checkpoint(const std::string& path, ParameterSet& params, AdamW& opt);

}  // namespace edgefit::train
