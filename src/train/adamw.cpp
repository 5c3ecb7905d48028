#include "train/adamw.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace edgefit::train {

// What every parameter's update shares within one step.
struct AdamW::StepConstants {
  double lr;        // learning rate
  double bc1, bc2;  // bias corrections 1 − β^t
  float decay;      // 1 − lr·λ
  float b1, b2;     // β1, β2
  float c1, c2;     // 1 − β1, 1 − β2, taken in double before rounding
  double eps;       // added to sqrt(v̂)
};

AdamW::AdamW(AdamWConfig cfg) : cfg_(cfg) {
  if (cfg.state_bits != 32 && cfg.state_bits != 8)
    throw Error("AdamW: optimizer state bits must be 32 or 8, not " +
                std::to_string(cfg.state_bits));
}

void AdamW::step(ParameterSet& params, double lr) {
  std::vector<Parameter>& ps = params.all();
  if (m_.empty() && m8_.empty()) {
    for (const Parameter& p : ps) {
      const int64_t n = static_cast<int64_t>(p.value.size());
      if (quantized()) {
        m8_.push_back(Moment8::zeros(n, MomentCode::kSigned));
        v8_.push_back(Moment8::zeros(n, MomentCode::kUnsigned));
      } else {
        m_.emplace_back(p.value.size(), 0.0f);
        v_.emplace_back(p.value.size(), 0.0f);
      }
    }
  }
  if ((quantized() ? m8_.size() : m_.size()) != ps.size())
    throw Error("AdamW: the parameter set changed between steps");
  for (const Parameter& p : ps)
    if (p.grad.size() != p.value.size())
      throw Error("AdamW: parameter '" + p.name + "' has no gradient of its size");
  ++t_;
  // 1 − β is taken in double before rounding (as PyTorch passes it): 1 − 0.999f would be off
  // by 1.3e-5 relative.
  const StepConstants c{lr,
                        1.0 - std::pow(cfg_.beta1, static_cast<double>(t_)),
                        1.0 - std::pow(cfg_.beta2, static_cast<double>(t_)),
                        static_cast<float>(1.0 - lr * cfg_.weight_decay),
                        static_cast<float>(cfg_.beta1),
                        static_cast<float>(cfg_.beta2),
                        static_cast<float>(1.0 - cfg_.beta1),
                        static_cast<float>(1.0 - cfg_.beta2),
                        cfg_.eps};
  for (size_t k = 0; k < ps.size(); ++k) {
    if (quantized())
      update_8bit(c, ps[k], m8_[k], v8_[k]);
    else
      update_f32(c, ps[k], m_[k], v_[k]);
  }
}

void AdamW::update_f32(const StepConstants& c, Parameter& p, std::vector<float>& m,
                       std::vector<float>& v) const {
  if (m.size() != p.value.size()) throw Error("AdamW: parameter '" + p.name + "' changed size");
  for (size_t i = 0; i < p.value.size(); ++i) {
    const float g = p.grad[i];
    m[i] = c.b1 * m[i] + c.c1 * g;
    v[i] = c.b2 * v[i] + c.c2 * g * g;
    const double denom = std::sqrt(v[i] / c.bc2) + c.eps;
    p.value[i] = static_cast<float>(p.value[i] * c.decay - c.lr * (m[i] / c.bc1) / denom);
  }
}

void AdamW::update_8bit(const StepConstants& c, Parameter& p, Moment8& m8, Moment8& v8) const {
  const int64_t n = static_cast<int64_t>(p.value.size());
  if (m8.size() != n) throw Error("AdamW: parameter '" + p.name + "' changed size");
  const MomentCode mcode = MomentCode::kSigned, vcode = MomentCode::kUnsigned;
  float m[kMomentBlock], v[kMomentBlock];
  for (int64_t b = 0; b < n; b += kMomentBlock) {
    const size_t len = static_cast<size_t>(std::min(kMomentBlock, n - b));
    dequantize_moment_block(m8, mcode, b, {m, len});
    dequantize_moment_block(v8, vcode, b, {v, len});
    for (size_t i = 0; i < len; ++i) {
      const size_t j = static_cast<size_t>(b) + i;
      const float g = p.grad[j];
      m[i] = c.b1 * m[i] + c.c1 * g;
      v[i] = c.b2 * (v[i] * v[i]) + c.c2 * g * g;  // v8 holds sqrt(v)
      const double denom = std::sqrt(v[i] / c.bc2) + c.eps;
      p.value[j] = static_cast<float>(p.value[j] * c.decay - c.lr * (m[i] / c.bc1) / denom);
      v[i] = std::sqrt(v[i]);
    }
    quantize_moment_block({m, len}, mcode, b, m8);
    quantize_moment_block({v, len}, vcode, b, v8);
  }
}

void AdamW::restore(int64_t steps, std::vector<std::vector<float>> m,
                    std::vector<std::vector<float>> v) {
  if (quantized() && !m.empty()) throw Error("AdamW: f32 moments for an 8-bit optimizer");
  if (m.size() != v.size()) throw Error("AdamW: first and second moments differ in count");
  t_ = steps;
  m_ = std::move(m);
  v_ = std::move(v);
}

void AdamW::restore8(int64_t steps, std::vector<Moment8> m, std::vector<Moment8> v) {
  if (!quantized() && !m.empty()) throw Error("AdamW: 8-bit moments for an f32 optimizer");
  if (m.size() != v.size()) throw Error("AdamW: first and second moments differ in count");
  t_ = steps;
  m8_ = std::move(m);
  v8_ = std::move(v);
}

}  // namespace edgefit::train
