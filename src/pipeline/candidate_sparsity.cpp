#include "pipeline/candidate_sparsity.h"

#include <regex>

#include "quant/zero_fraction.h"

namespace edgefit {

bool recipe_prunes(const Recipe& recipe) {
  for (const TensorRule& r : recipe.rules)
    if (r.sparsity.kind == SparsityKind::kUnstructured || r.sparsity.kind == SparsityKind::kNM)
      return true;
  return false;
}

ModelSparsity model_sparsity(const Model& model) {
  static const std::regex block_re(R"(blk\.(\d+)\..+\.weight)");
  ModelSparsity out;
  std::vector<double> zeros, values;  // per block, summed over its matrices
  for (const ModelTensor& t : model.tensors) {
    std::smatch m;
    if (t.view.ndim != 2 || !std::regex_match(t.name, m, block_re)) continue;
    const double z = zero_fraction(t.view);
    if (z < 0) continue;
    out.tensors.emplace_back(t.name, z);
    const size_t layer = std::stoul(m[1]);
    if (layer >= zeros.size()) {
      zeros.resize(layer + 1, 0.0);
      values.resize(layer + 1, 0.0);
    }
    const double n = static_cast<double>(t.view.numel());
    zeros[layer] += z * n;
    values[layer] += n;
  }
  for (size_t l = 0; l < zeros.size(); ++l)
    out.layers.push_back(values[l] > 0 ? zeros[l] / values[l] : -1.0);
  return out;
}

}  // namespace edgefit
