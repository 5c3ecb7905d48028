// Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_: the L2 norm of all
// gradients together; when it exceeds max_norm, every gradient is scaled by
// max_norm / (norm + 1e-6). The norm is summed in double.
#pragma once

#include "train/parameters.h"

namespace edgefit::train {

// Returns the norm before clipping.
double clip_grad_norm(ParameterSet& params, double max_norm);

}  // namespace edgefit::train
