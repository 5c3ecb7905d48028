// Wanda (prune/score_prune.h) as a block method: each linear weight loses its lowest
// |W_ij|·‖X_j‖ to its pattern, compared within each output row, with ‖X_j‖ from the per-channel
// Σx² of the block's input (the statistic an imatrix collects) on the calibration text that the
// already-pruned blocks before it output; then rounded into the plan's type with the same
// statistic as importance.
#pragma once

#include "compress/methods/prune_block.h"

namespace edgefit {

// Wanda's own settings.
struct WandaOptions {
  MaskScope scope = MaskScope::kPerRow;  // comparison group of an unstructured fraction (the
                                         // paper: per output row)
};

class WandaBlockMethod : public PruneBlockMethod {
 public:
  WandaBlockMethod(WandaOptions options, OwlSettings owl)
      : PruneBlockMethod("wanda", owl), options_(options) {}
  StatsNeeds needs() const override { return {}; }  // Σx² is always collected

 protected:
  std::vector<uint8_t> prune_linear(const Linear& l, std::vector<float> w) override;

 private:
  WandaOptions options_;  // comparison group
};

}  // namespace edgefit
