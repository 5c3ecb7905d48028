// Non-finite weights (NaN, ±Inf) before quantization. A NaN poisons the scale of its whole block
// and the file still loads, so the damage shows up only as nonsense output; llama-quantize refuses
// such input ("quantized data validation failed"), and so do we, before anything is written.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "formats/model.h"

namespace edgefit {

// Flat index (row-major, outermost dimension first) of the first NaN or infinity, or -1.
int64_t first_non_finite(const float* x, int64_t n);

// The same over a contiguous F32, F16 or BF16 tensor, read in place (bit tests for the 16-bit
// types, no conversion). Other types return -1: their values exist only after dequantization.
int64_t first_non_finite(const TensorView& v);

// Throws Error naming the tensor, its file, the value and the first bad flat index.
void throw_non_finite(const ModelTensor& t, int64_t index, float value);

// Checks a float tensor in place (first_non_finite(TensorView)); throws via throw_non_finite.
void check_finite_weights(const ModelTensor& t);

}  // namespace edgefit
