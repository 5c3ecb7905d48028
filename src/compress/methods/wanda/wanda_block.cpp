#include "compress/methods/wanda/wanda_block.h"

#include "compress/method_registry.h"
#include "core/error.h"
#include "prune/score_prune.h"

namespace edgefit {

std::vector<uint8_t> WandaBlockMethod::prune_linear(const Linear& l, std::vector<float> w) {
  if (l.stats->width != l.cols) throw Error("wanda: no input statistics for '" + *l.name + "'");
  const std::vector<float> norms = channel_norms_from_sum_sq(l.stats->sum_sq.data(), l.cols);
  const PrunedWeights p = wanda_prune(w.data(), l.rows, l.cols, norms.data(), l.pattern,
                                      mask_scope_for(l.type, options_.scope));
  return quantize_pruned(p.weights, l.rows, l.cols, l.type, l.stats);
}

namespace {

std::unique_ptr<BlockMethod> make_wanda(const CalibratedOptions& co) {
  return std::make_unique<WandaBlockMethod>(WandaOptions{}, co.owl);
}

std::vector<GgufKV> wanda_metadata(const CalibratedOptions& co) {
  return prune_metadata("wanda", co);
}

bool wanda_param(std::string_view key, const nlohmann::ordered_json& v, const std::string& field,
                 const std::string& file, CalibratedOptions& co) {
  return read_owl_param(key, v, field, file, co);
}

}  // namespace

extern const CalibMethod kWandaMethod;
const CalibMethod kWandaMethod = {
    .name = "wanda",
    .summary = "Wanda pruning (|W|·‖X‖)",
    .make = make_wanda,
    .metadata = wanda_metadata,
    .read_param = wanda_param,
    .prunes = true,
};

}  // namespace edgefit
