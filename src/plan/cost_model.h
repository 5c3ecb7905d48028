// What a recipe costs on a device, before anything is quantized: file size, memory at run time
// and decode speed from the roofline. Decode is memory-bound: each generated token reads every
// weight once (the token embedding only one row) plus the KV cache so far, so
//   tokens/s ≤ bandwidth ÷ bytes read per token.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "formats/model.h"
#include "methods/quantize_model.h"
#include "plan/device_profile.h"

namespace edgefit {

// One tensor as a recipe would store it: the cost model's view of one QuantizePlan tensor (the one
// plan type, methods/quantize_model.h), derived by planned_tensors() below; tests build it from
// an existing file's tensors.
struct PlannedTensor {
  std::string name;    // GGUF name
  int64_t numel = 0;   // elements
  DType type;          // storage type in the recipe
  uint64_t bytes = 0;  // storage bytes for that type
};

struct CostEstimate {
  uint64_t file_bytes = 0;       // GGUF size: tensor bytes + metadata + alignment padding
  uint64_t weight_bytes = 0;     // sum of tensor bytes (memory-mapped at run time)
  uint64_t kv_cache_bytes = 0;   // F16 K and V for every layer at the full context
  uint64_t overhead_bytes = 0;   // activations, logits, scratch and the runtime itself
  uint64_t runtime_bytes = 0;    // weight + kv + overhead: what must fit in RAM
  uint64_t bytes_per_token = 0;  // DRAM bytes read to decode one token at half context
  double bits_per_weight = 0;    // 8 × weight_bytes ÷ parameters
  double roofline_tps = 0;       // bandwidth ÷ bytes_per_token
  double predicted_tps = 0;      // roofline × the runtime's measured efficiency
  bool fits_ram = false;         // runtime_bytes ≤ device RAM budget
  bool fits_storage = false;     // file_bytes ≤ device storage budget
  bool fits() const { return fits_ram && fits_storage; }
};

// Fraction of the roofline edgefit's runtime reaches in decode (measured by `edgefit bench`
// on x86; used for devices we cannot measure).
constexpr double kDecodeEfficiency = 0.8;
// Bytes of metadata (tokenizer vocabulary dominates) estimated from the vocabulary size.
uint64_t estimate_metadata_bytes(const ArchConfig& c);

CostEstimate estimate_cost(const ArchConfig& c, const std::vector<PlannedTensor>& tensors,
                           const DeviceProfile& device, int context);
// The tensors of a quantization plan as the cost model sees them (name, elements, output type and
// bytes), and the cost of that plan.
std::vector<PlannedTensor> planned_tensors(const QuantizePlan& plan);
CostEstimate estimate_cost(const ArchConfig& c, const QuantizePlan& plan,
                           const DeviceProfile& device, int context);

// "1.23 GiB", "512 MiB", "12.0 KiB"
std::string format_bytes(uint64_t bytes);

}  // namespace edgefit
