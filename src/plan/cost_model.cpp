#include "plan/cost_model.h"

#include <cstdio>

namespace edgefit {

uint64_t estimate_metadata_bytes(const ArchConfig& c) {
  // Per token: u64 length + ~7 bytes of text + f32 score + i32 type; BPE merges add about as much.
  return 64 * 1024 + static_cast<uint64_t>(c.vocab_size) * 40;
}

CostEstimate estimate_cost(const ArchConfig& c, const std::vector<PlannedTensor>& tensors,
                           const DeviceProfile& device, int context) {
  CostEstimate e;
  int64_t params = 0;
  uint64_t embedding_bytes = 0;
  for (const auto& t : tensors) {
    e.weight_bytes += t.bytes;
    e.file_bytes += (t.bytes + 31) / 32 * 32;  // each tensor padded to the GGUF alignment
    params += t.numel;
    if (t.name == "token_embd.weight") embedding_bytes = t.bytes;
  }
  e.file_bytes += estimate_metadata_bytes(c);
  const uint64_t kv_per_token = 2ull * c.n_layers * c.n_kv_heads * c.head_dim * 2;  // K+V, F16
  e.kv_cache_bytes = kv_per_token * static_cast<uint64_t>(context);
  // Activations for a 512-token prompt batch, the logits row(s), plus ~32 MiB for the process.
  const uint64_t batch = 512;
  e.overhead_bytes =
      batch * (4ull * c.d_model + 3ull * c.d_ff) * 4 + 4ull * c.vocab_size * 4 + (32ull << 20);
  e.runtime_bytes = e.weight_bytes + e.kv_cache_bytes + e.overhead_bytes;
  // Decode reads all weights but the embedding table (one row of it) plus half the KV cache on
  // average over a context.
  const uint64_t embedding_row = c.vocab_size ? embedding_bytes / c.vocab_size : 0;
  const bool tied = c.tied_embeddings;  // tied: the table is read in full by the output head
  e.bytes_per_token =
      e.weight_bytes - (tied ? 0 : embedding_bytes - embedding_row) + e.kv_cache_bytes / 2;
  e.bits_per_weight = params ? 8.0 * e.weight_bytes / params : 0;
  if (device.bandwidth_gbs > 0 && e.bytes_per_token > 0) {
    e.roofline_tps = device.bandwidth_gbs * 1e9 / e.bytes_per_token;
    e.predicted_tps = e.roofline_tps * kDecodeEfficiency;
  }
  e.fits_ram = e.runtime_bytes <= device.ram_bytes;
  e.fits_storage = e.file_bytes <= device.storage_bytes;
  return e;
}

std::vector<PlannedTensor> planned_tensors(const QuantizePlan& plan) {
  std::vector<PlannedTensor> out;
  out.reserve(plan.tensors.size());
  for (const QuantizedTensor& t : plan.tensors)
    out.push_back({t.name, static_cast<int64_t>(t.numel()), t.to, t.bytes});
  return out;
}

CostEstimate estimate_cost(const ArchConfig& c, const QuantizePlan& plan,
                           const DeviceProfile& device, int context) {
  return estimate_cost(c, planned_tensors(plan), device, context);
}

std::string format_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / double(1ull << 30));
  else if (b >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / double(1ull << 20));
  else if (b >= 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  return buf;
}

}  // namespace edgefit
