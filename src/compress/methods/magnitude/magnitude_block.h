// Magnitude pruning as a block method: each linear weight loses its smallest |W_ij| to its
// pattern, compared over the whole layer for an unstructured fraction (the classic baseline) and
// within each group for N:M; then rounded into the plan's type. Needs no calibration text unless
// OWL asks for the dense model's outlier ratios.
#pragma once

#include "compress/methods/prune_block.h"

namespace edgefit {

// Magnitude's own settings.
struct MagnitudeOptions {
  MaskScope scope = MaskScope::kPerLayer;  // comparison group of an unstructured fraction
};

class MagnitudeBlockMethod : public PruneBlockMethod {
 public:
  MagnitudeBlockMethod(MagnitudeOptions options, OwlSettings owl)
      : PruneBlockMethod("magnitude", owl), options_(options) {}
  StatsNeeds needs() const override { return {}; }

 protected:
  std::vector<uint8_t> prune_linear(const Linear& l, std::vector<float> w) override;

 private:
  MagnitudeOptions options_;  // comparison group
};

}  // namespace edgefit
