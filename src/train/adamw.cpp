#include "train/adamw.h"

#include <cmath>

#include "core/error.h"

namespace edgefit::train {

void AdamW::step(ParameterSet& params, double lr) {
  std::vector<Parameter>& ps = params.all();
  if (m_.empty()) {
    for (const Parameter& p : ps) {
      m_.emplace_back(p.value.size(), 0.0f);
      v_.emplace_back(p.value.size(), 0.0f);
    }
  }
  if (m_.size() != ps.size()) throw Error("AdamW: the parameter set changed between steps");
  ++t_;
  const double bc1 = 1.0 - std::pow(cfg_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(cfg_.beta2, static_cast<double>(t_));
  const float decay = static_cast<float>(1.0 - lr * cfg_.weight_decay);
  // 1 − β is taken in double before rounding (as PyTorch passes it): 1 − 0.999f would be off
  // by 1.3e-5 relative.
  const float b1 = static_cast<float>(cfg_.beta1), b2 = static_cast<float>(cfg_.beta2);
  const float c1 = static_cast<float>(1.0 - cfg_.beta1), c2 = static_cast<float>(1.0 - cfg_.beta2);
  for (size_t k = 0; k < ps.size(); ++k) {
    Parameter& p = ps[k];
    std::vector<float>& m = m_[k];
    std::vector<float>& v = v_[k];
    if (m.size() != p.value.size()) throw Error("AdamW: parameter '" + p.name + "' changed size");
    for (size_t i = 0; i < p.value.size(); ++i) {
      const float g = p.grad[i];
      m[i] = b1 * m[i] + c1 * g;
      v[i] = b2 * v[i] + c2 * g * g;
      const double denom = std::sqrt(v[i] / bc2) + cfg_.eps;
      p.value[i] = static_cast<float>(p.value[i] * decay - lr * (m[i] / bc1) / denom);
    }
  }
}

void AdamW::restore(int64_t steps, std::vector<std::vector<float>> m,
                    std::vector<std::vector<float>> v) {
  if (m.size() != v.size()) throw Error("AdamW: first and second moments differ in count");
  t_ = steps;
  m_ = std::move(m);
  v_ = std::move(v);
}

}  // namespace edgefit::train
