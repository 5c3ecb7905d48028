// GPTQ as a block method of the layer pipeline: each linear weight of a block is quantized by
// GPTQ (methods/gptq.h) with the Hessian of its input, into the type the quantization plan
// chose for it. The inverse-Hessian factor is computed once per input group (q/k/v share one,
// gate/up share one). Types GPTQ cannot target fall back to importance-weighted rounding.
#pragma once

#include "compress/block_method.h"
#include "compress/method_params.h"
#include "solve/gptq.h"

namespace edgefit {

// GPTQ's settings (recipe parameters damp, act_order, block_size; flag --act-order).
struct GptqParams : MethodParamsOf<GptqParams> {
  double damp = 0.01;      // dampening, fraction of the mean Hessian diagonal
  bool act_order = false;  // columns by decreasing Hessian diagonal
  int block_size = 128;    // lazy-batch columns
};

class GptqBlockMethod : public BlockMethod {
 public:
  explicit GptqBlockMethod(GptqOptions options) : options_(options) {}
  std::string name() const override { return "gptq"; }
  StatsNeeds needs() const override { return {.hessian = true}; }
  void compress(const BlockJob& job) override;

 private:
  GptqOptions options_;  // dampening, lazy batch, act-order
};

// Quantizes W [rows, cols] into `type` without GPTQ: float types are converted, block types
// rounded with `importance` (may be null). Shared by the methods' fallbacks.
std::vector<uint8_t> quantize_plain(const std::vector<float>& w, int64_t rows, int64_t cols,
                                    DType type, const float* importance);

}  // namespace edgefit
