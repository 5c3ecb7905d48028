// SparseGPT (prune/sparsegpt.h) as a block method: each linear weight is pruned with OBS updates
// from the Hessian of its input (prepared once per input group, as GPTQ), on the inputs the
// already-pruned blocks before it output. Into a type GPTQ can target (gptq_supports) it prunes
// and quantizes in one pass (the paper's joint mode); into float types it prunes in f32 and
// converts.
#pragma once

#include <array>
#include <optional>

#include "compress/method_params.h"
#include "compress/methods/prune_block.h"
#include "prune/sparsegpt.h"

namespace edgefit {

// SparseGPT's settings as recipes and --damp set them (CalibratedOptions::params).
struct SparseGptParams : MethodParamsOf<SparseGptParams> {
  double damp = 0.01;    // Hessian dampening, fraction of its mean diagonal
  int block_size = 128;  // lazy-batch columns
};

// SparseGPT's own settings (the pattern and the type come per weight from the plan).
struct SparseGptMethodOptions {
  GptqOptions gptq;                      // dampening and lazy-batch width
  int mask_block = 128;                  // columns per adaptive mask choice (the paper's Bs)
  MaskScope scope = MaskScope::kPerRow;  // comparison group of an unstructured mask block
};

class SparseGptBlockMethod : public PruneBlockMethod {
 public:
  SparseGptBlockMethod(SparseGptMethodOptions options, OwlSettings owl)
      : PruneBlockMethod("sparsegpt", owl), options_(options) {}
  StatsNeeds needs() const override { return {.hessian = true}; }

 protected:
  std::vector<uint8_t> prune_linear(const Linear& l, std::vector<float> w) override;
  void end_block() override;

 private:
  SparseGptMethodOptions options_;                        // settings
  std::array<std::optional<GptqHessian>, kNumGroups> h_;  // prepared Hessian per input group
};

}  // namespace edgefit
