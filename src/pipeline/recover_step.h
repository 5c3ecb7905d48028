// A recipe's recovery steps carried out on a compressed model: after `compress --recipe` (or
// any caller) has quantized, each `{"kind": "lora", "params": {…}}` step trains LoRA adapters
// on the compressed GGUF against the uncompressed teacher on the calibration text
// (train/recover.h) and writes the adapter GGUF and the merged GGUF (adapters folded in,
// re-quantized to the compressed file's types).
//
// The step's params, all optional (train/recover.h's defaults otherwise):
//   rank, alpha, targets (["q", …, "down"]), steps, minutes, lr, warmup, kd_weight, temperature,
//   seed, ctx (tokens per window; default 256 or the model's trained context if shorter)
// An unknown or mistyped parameter is an Error naming it ("r.json: recovery[0].params.rnk:
// unknown parameter"); qat and distill steps are refused (not built yet).
#pragma once

#include <string>
#include <vector>

#include "recipe/recipe.h"
#include "train/recover.h"

namespace edgefit {

// Where one recovery run reads and writes.
struct RecoveryInputs {
  std::string compressed;         // the compressed GGUF (the frozen base)
  std::string teacher;            // the uncompressed model
  std::vector<std::string> data;  // calibration text files (equal tokens per file)
  std::string tokenizer;          // tokenizer override ("": the compressed model's own)
  std::string adapter_out;        // adapter GGUF to write
  std::string merged_out;         // merged GGUF to write ("": none)
  bool progress = true;           // progress lines on stderr
};

// The settings of recovery step `index` of `recipe` (read from `recipe_file`, for errors), with
// the window length in `ctx` (0 when the step leaves it to the model). Throws Error naming the
// field for a step that is not lora or a bad parameter.
train::RecoverSettings recovery_settings(const Recipe& recipe, size_t index,
                                         const std::string& recipe_file, int& ctx);

// Runs recovery step `index` of `recipe` as described above and returns what it did. A run cut
// short by the step's `minutes` leaves its checkpoint beside adapter_out and returns
// finished = false; calling again resumes it.
train::RecoverResult apply_recovery_step(const Recipe& recipe, size_t index,
                                         const std::string& recipe_file, const RecoveryInputs& in);

}  // namespace edgefit
