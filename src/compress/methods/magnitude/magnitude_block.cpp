#include "compress/methods/magnitude/magnitude_block.h"

#include "compress/method_registry.h"
#include "prune/score_prune.h"

namespace edgefit {

std::vector<uint8_t> MagnitudeBlockMethod::prune_linear(const Linear& l, std::vector<float> w) {
  const PrunedWeights p =
      magnitude_prune(w.data(), l.rows, l.cols, l.pattern, mask_scope_for(l.type, options_.scope));
  // Rounded without importance when no calibration ran (empty statistics).
  return quantize_pruned(p.weights, l.rows, l.cols, l.type, l.stats);
}

namespace {

std::unique_ptr<BlockMethod> make_magnitude(const CalibratedOptions& co) {
  return std::make_unique<MagnitudeBlockMethod>(MagnitudeOptions{}, co.owl);
}

std::vector<GgufKV> magnitude_metadata(const CalibratedOptions& co) {
  return prune_metadata("magnitude", co);
}

bool magnitude_param(std::string_view key, const nlohmann::ordered_json& v,
                     const std::string& field, const std::string& file, CalibratedOptions& co) {
  return read_owl_param(key, v, field, file, co);
}

// Only OWL's outlier ratios need activations.
bool magnitude_needs_calibration(const CalibratedOptions& co) {
  return co.owl.enabled;
}

}  // namespace

extern const CalibMethod kMagnitudeMethod;
const CalibMethod kMagnitudeMethod = {
    .name = "magnitude",
    .summary = "magnitude pruning",
    .make = make_magnitude,
    .metadata = magnitude_metadata,
    .read_param = magnitude_param,
    .prunes = true,
    .needs_calibration = magnitude_needs_calibration,
};

}  // namespace edgefit
