#include "train/lora.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/block_linears.h"
#include "train/data_order.h"

namespace edgefit::train {

void attach_lora(std::vector<BlockParams>& blocks, ParameterSet& params, const LoraConfig& cfg) {
  std::vector<std::string> wanted;
  for (const std::string& t : cfg.targets) {
    const BlockLinear* b = find_block_linear(t);
    if (!b) throw Error("unknown LoRA target '" + t + "' (expected q, k, v, o, gate, up, down)");
    wanted.emplace_back(b->stem);
  }
  SplitMix64 rng(cfg.seed);
  const float scale = static_cast<float>(cfg.alpha / cfg.rank);
  // First create every adapter (the set's vector may move while it grows), then bind pointers.
  std::vector<std::pair<LinearLayer*, std::string>> bound;
  for (size_t l = 0; l < blocks.size(); ++l)
    for (auto [short_name, layer] : block_linears(blocks[l])) {
      if (std::find(wanted.begin(), wanted.end(), short_name) == wanted.end()) continue;
      const int64_t n_out = layer->n_out(), n_in = layer->n_in();
      if (cfg.rank < 1 || cfg.rank > std::min(n_out, n_in))
        throw Error("LoRA rank " + std::to_string(cfg.rank) + " does not fit the " +
                    std::to_string(n_out) + "×" + std::to_string(n_in) + " weight " + short_name);
      const std::string base = "blk." + std::to_string(l) + "." + short_name + ".weight";
      params.add(base + ".lora_a", {cfg.rank, n_in});
      params.add(base + ".lora_b", {n_out, cfg.rank});
      Parameter& a = params.get(base + ".lora_a");  // after both adds: add() may move the set
      const double bound_a = 1.0 / std::sqrt(static_cast<double>(n_in));
      for (float& v : a.value) {
        const double u = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;  // [0, 1)
        v = static_cast<float>((2.0 * u - 1.0) * bound_a);
      }
      bound.emplace_back(layer, base);
    }
  for (auto& [layer, base] : bound) {
    layer->lora.a = &params.get(base + ".lora_a");
    layer->lora.b = &params.get(base + ".lora_b");
    layer->lora.scale = scale;
  }
}

}  // namespace edgefit::train
