// Structured pruning on a whole model: the scoring pass over calibration text and the slicing
// into a smaller dense Model (structured_plan.h chooses what to keep in between). Writing the
// result as GGUF or a Hugging Face folder is structured_export.h.
#pragma once

#include <cstdint>
#include <vector>

#include "calib/calib_data.h"
#include "formats/model.h"
#include "prune/structured_plan.h"

namespace edgefit {

// One pass of the unpruned model over the windows, block by block per window: Σ_t x² of every
// attn_output and ffn_down input, and each block's influence (input vs output hidden states);
// then the scores of structured_scores.h per layer. A progress line per window on stderr when
// `progress`. Throws Error for an attention-free layer or windows that differ in length.
std::vector<LayerScores> score_structured(const Model& model, const CalibrationWindows& windows,
                                          bool progress);

// The smaller dense model: kept blocks renumbered 0…, q/k/v rows and biases of the kept heads,
// attn_output columns of the kept query heads, ffn_gate/ffn_up rows and ffn_down columns of the
// kept channels; every other tensor as it is. Head rows are contiguous in both RoPE layouts, so
// the q/k rows keep the source's layout (rope_interleaved). Float tensors (F32, F16, BF16) keep
// their type; quantized ones come out as F32. The result owns its bytes (keep_alive) and passes
// check_model. Throws Error when a keep-list does not fit the model.
Model slice_model(const Model& model, const StructuredKeep& keep);

// `model` with the removed units zeroed instead of sliced out, all tensors F32: the attn_output
// columns of removed query heads, the ffn_down columns of removed channels, and of a dropped
// block both (the block then adds nothing to the residual stream). Its logits equal the sliced
// model's up to rounding: the exactness check of slice_model.
Model mask_model(const Model& model, const StructuredKeep& keep);

}  // namespace edgefit
