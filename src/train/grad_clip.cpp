#include "train/grad_clip.h"

#include <cmath>

namespace edgefit::train {

double clip_grad_norm(ParameterSet& params, double max_norm) {
  double sq = 0;
  for (const Parameter& p : params.all())
    for (float g : p.grad) sq += static_cast<double>(g) * g;
  const double norm = std::sqrt(sq);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0)
    for (Parameter& p : params.all())
      for (float& g : p.grad) g = static_cast<float>(g * coef);
  return norm;
}

}  // namespace edgefit::train
