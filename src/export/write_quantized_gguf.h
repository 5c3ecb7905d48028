// Assembling a quantized GGUF from a plan (quantize_model.h's plan_quantization: metadata and
// tensor order, chosen exactly as quantize_model() chooses them) with the tensor bytes produced
// elsewhere — by a calibration method that finished blocks earlier and left them on disk, or by a
// callback that converts a tensor on the spot. Streams one tensor at a time; the file appears
// whole or not at all.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/atomic_file.h"
#include "methods/quantize_model.h"

namespace edgefit {

// Writes exactly t.bytes bytes of tensor t to the sink.
using TensorProducer = std::function<void(const QuantizedTensor& t, AtomicFileWriter& out)>;

// Writes `plan` (its metadata in order, then its tensors in order, each padded to the alignment:
// general.alignment when the metadata has it, else 32) to `output`. The result lists the tensors,
// sizes and time. Throws Error on I/O failure or a producer writing the wrong byte count.
QuantizeResult write_quantized_gguf(
    const QuantizePlan& plan, const std::string& output, const TensorProducer& produce,
    const std::function<void(const QuantizedTensor&)>& on_tensor = {});

}  // namespace edgefit
