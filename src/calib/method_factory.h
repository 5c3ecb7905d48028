// The calibration methods by name, and what each adds to the output beyond its block tensors
// (metadata keys, plan changes, extra exports). Kept apart so calibrated_quantize.cpp stays
// method-agnostic.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "calib/block_method.h"
#include "calib/calibrated_quantize.h"
#include "calib/work_dir.h"
#include "formats/gguf.h"
#include "methods/quantize_model.h"
#include "recipe/recipe.h"

namespace edgefit {

// "gptq", "awq", "smoothquant"; UsageError for anything else.
std::unique_ptr<BlockMethod> make_block_method(const CalibratedOptions& co);
// A recipe's method settings into `co` (method name and its params; "samples" and "seqlen" for
// every calibrated method). Throws Error naming the field ("method.params.damp") in `file` for a
// parameter the method does not have or a value of the wrong kind.
void apply_method_params(const MethodSpec& method, CalibratedOptions& co, const std::string& file);
// edgefit.<method>.* keys recording the method's settings.
std::vector<GgufKV> method_metadata(const CalibratedOptions& co);
// Changes the plan where the method's output is not the preset's (SmoothQuant: I8 weights plus
// F32 "<weight>_scale" tensors, edgefit.w8a8 = true).
void adapt_plan(const CalibratedOptions& co, QuantizePlan& plan);
// SmoothQuant's safetensors export (int8 weights + scales, compressed-tensors-like names); an
// Error for other methods.
void write_safetensors_export(const CalibratedOptions& co, const Model& model,
                              const QuantizePlan& plan, const WorkDir& wd, const std::string& path);

}  // namespace edgefit
