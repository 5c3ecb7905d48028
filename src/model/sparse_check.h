// Load-time validation of edgefit's sparse weight types: the kernels trust every 2:4 index nibble
// and mask popcount (a bad one would read activations past a block), so a model is checked once,
// before any forward pass, and a corrupt block is an Error naming the tensor and block.
#pragma once

#include "formats/model.h"

namespace edgefit {

// Throws Error (with the file and the block's byte offset) at the first corrupt sparse block of
// any tensor of `model`; tensors of other types are not read.
void check_sparse_tensors(const Model& model);

}  // namespace edgefit
