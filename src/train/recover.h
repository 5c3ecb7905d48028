// One LoRA recovery run, as `edgefit recover` and a recipe's `recovery: [{"kind": "lora"}]` step
// both need it: adapters trained on the frozen compressed base by distillation from the
// uncompressed teacher on the fly (mixed with the LM loss by kd_weight), over token windows the
// caller drew (calibration text, equal tokens per language), then written as a llama.cpp adapter
// GGUF, optionally a PEFT folder, and optionally the base with the adapters folded in
// (train/merge_lora.h).
//
// Resumable: a checkpoint "<adapter>.ckpt.safetensors" is written every checkpoint_every steps
// and when the time budget runs out; a rerun with the same settings resumes from it and ends with
// the same adapter bytes as an uninterrupted run (train/train_loop.h). The checkpoint is removed
// once the adapter exists. A checkpoint made with other settings is refused, never mixed in.
//
// The defaults (rank 16, alpha 32, all seven projections, lr 1e-3 with 5 % warm-up and cosine
// decay to a tenth, pure distillation at T = 2, 8-bit AdamW moments) are the ones measured in
// docs/training.md; a peak learning rate of 2e-3 made polyglot q2_k's distillation loss climb above
// the untrained base's within 70 steps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "formats/model.h"
#include "train/lora.h"

namespace edgefit::train {

struct RecoverSettings {
  LoraConfig lora;           // rank, alpha, targets, initialisation seed
  int64_t steps = 0;         // optimizer steps, one window each (0: one pass)
  double minutes = 0;        // wall-clock budget (0: none); a rerun continues
  double lr = 1e-3;          // peak learning rate
  int64_t warmup = -1;       // warm-up steps (-1: 5 % of the steps)
  double kd_weight = 1.0;    // share of the distillation loss (the rest cross-entropy)
  double temperature = 2.0;  // distillation temperature
  // AdamW's moments: 8-bit block-wise quantized (train/moments8.h; a quarter of the f32 state's
  // memory, converging as f32 does on polyglot, docs/training.md) or 32 (f32).
  int optim_bits = 8;
  uint64_t seed = 0;              // data order
  int64_t checkpoint_every = 20;  // steps between checkpoints
  std::string adapter_path;       // the adapter GGUF to write (required)
  std::string peft_dir;           // also a PEFT folder ("": no)
  std::string merged_path;        // also the base with the adapters folded in ("": no)
  // Re-quantize the merged export by GPTQ when the base was made by GPTQ (its edgefit.gptq.*
  // metadata), with Hessians of the adapted model's layer inputs over the first
  // hessian_windows windows; false: round as llama-quantize does (RTN).
  bool gptq_merge = true;
  int64_t hessian_windows = 64;
  std::string teacher_name;  // the teacher's name for the PEFT config (base_model_name)
  // What else identifies the run's data in its checkpoint (the text files, say), so a resume
  // with other data is refused.
  std::string data_description;
  bool progress = true;  // progress lines on stderr
};

// What recover_lora() did.
struct RecoverResult {
  bool finished = false;    // false: the time budget ran out first (the checkpoint holds the run)
  int64_t first_step = 0;   // step this run started at (> 0 after a resume)
  int64_t next_step = 0;    // step the next run would take (== total_steps when finished)
  int64_t total_steps = 0;  // steps of the whole run
  int64_t tokens = 0;       // tokens trained on in this run
  double seconds = 0;       // wall time of this run's steps
  int merged_tensors = 0;   // tensors folded into merged_path (0: no merged export)
  int gptq_tensors = 0;     // of those, re-quantized by GPTQ
};

// Trains, writes and (optionally) merges as described above. `base` (the model of a GGUF file
// when merged_path is set) and `teacher` must share architecture, vocabulary and shape.
// `windows` are token windows of equal length. Throws Error for incompatible models or bad
// settings, and on I/O failure.
RecoverResult recover_lora(const Model& base, const Model& teacher,
                           const std::vector<std::vector<int32_t>>& windows, RecoverSettings s);

}  // namespace edgefit::train
