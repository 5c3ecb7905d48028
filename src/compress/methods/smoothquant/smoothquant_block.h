// SmoothQuant W8A8 as a block method of the layer pipeline (methods/smoothquant.h for the math,
// kernels/w8a8_gemm.h for the kernel), and its output formats:
//  * GGUF: every linear weight I8 {out, in} followed by "<weight>_scale" F32 {out}, the smoothed
//    RMSNorm gains F32, embeddings/head as the plan says (F16), and edgefit.w8a8 = true. llama.cpp
//    has no W8A8 matmul: only edgefit's runtime runs it.
//  * safetensors: HF names, "<…>.weight" I8 + "<…>.weight_scale" F32 [out, 1] (the layout
//    compressed-tensors' int-quantized W8A8 checkpoints use), q/k rows in HF order.
// Smoothing per block: q/k/v's input via attn_norm, gate/up's via ffn_norm, down's via the rows of
// up; o's input is smoothed via v's rows only when the layer's n_heads == n_kv_heads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compress/block_method.h"
#include "compress/method_params.h"
#include "compress/methods/smoothquant/smoothquant.h"
#include "compress/work_dir.h"
#include "methods/quantize_model.h"

namespace edgefit {

// SmoothQuant's settings (recipe parameter alpha; flag --sq-alpha).
struct SmoothQuantParams : MethodParamsOf<SmoothQuantParams> {
  double alpha = 0.5;  // migration strength α
};

class SmoothQuantBlockMethod : public BlockMethod {
 public:
  explicit SmoothQuantBlockMethod(SmoothQuantOptions options) : options_(options) {}
  std::string name() const override { return "smoothquant"; }
  StatsNeeds needs() const override { return {}; }  // max |x| per channel is always collected
  // Adds a placeholder "<weight>_scale" tensor per linear weight (bound once compressed).
  void prepare(Model& work) override;
  void compress(const BlockJob& job) override;

 private:
  SmoothQuantOptions options_;                 // migration strength
  std::shared_ptr<std::vector<float>> zeros_;  // backing of the placeholder scale tensors
};

// The plan's linear weights become I8, each followed by its F32 scale tensor.
void smoothquant_adapt_plan(QuantizePlan& plan);
// Writes the safetensors export from the finished work directory and the source model.
void smoothquant_write_safetensors(const Model& model, const QuantizePlan& plan, const WorkDir& wd,
                                   const std::string& path);

}  // namespace edgefit
