#include "train/adamw.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"

namespace edgefit::train {
namespace {

// Moment blocks per pool task: 2048 values, some microseconds of work (8-bit: a dequantize, the
// update and a quantize per value), so a LoRA adapter's few hundred blocks split evenly while
// the pool's per-task cost stays small.
constexpr int64_t kBlocksPerTask = 8;

}  // namespace

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
  // Work items are the kMomentBlock-value blocks of every parameter, numbered across the set in
  // order: the split depends only on the shapes, and every value's update (and each 8-bit
  // block's absmax) involves its own block alone, so any thread count gives the same bits.
  std::vector<int64_t> first_block(ps.size() + 1, 0);  // block number of parameter k's start
  for (size_t k = 0; k < ps.size(); ++k) {
    const int64_t n = static_cast<int64_t>(ps[k].value.size());
    if ((quantized() ? m8_[k].size() : static_cast<int64_t>(m_[k].size())) != n)
      throw Error("AdamW: parameter '" + ps[k].name + "' changed size");
    first_block[k + 1] = first_block[k] + (n + kMomentBlock - 1) / kMomentBlock;
  }
  ThreadPool::global().parallel_for(
      first_block.back(), kBlocksPerTask, [&](int64_t b0, int64_t b1) {
        // The parameter holding block b0: the last one starting at or before it.
        size_t k = static_cast<size_t>(
            std::upper_bound(first_block.begin(), first_block.end(), b0) - first_block.begin() - 1);
        for (int64_t b = b0; b < b1; ++b) {
          while (b >= first_block[k + 1]) ++k;  // skips empty parameters too
          const int64_t begin = (b - first_block[k]) * kMomentBlock;
          if (quantized())
            update_8bit(c, ps[k], m8_[k], v8_[k], begin);
          else
            update_f32(c, ps[k], m_[k], v_[k], begin);
        }
      });
}

void AdamW::update_f32(const StepConstants& c, Parameter& p, std::vector<float>& m,
                       std::vector<float>& v, int64_t begin) const {
  const size_t end = std::min(p.value.size(), static_cast<size_t>(begin + kMomentBlock));
  for (size_t i = static_cast<size_t>(begin); i < end; ++i) {
    const float g = p.grad[i];
    m[i] = c.b1 * m[i] + c.c1 * g;
    v[i] = c.b2 * v[i] + c.c2 * g * g;
    const double denom = std::sqrt(v[i] / c.bc2) + c.eps;
    p.value[i] = static_cast<float>(p.value[i] * c.decay - c.lr * (m[i] / c.bc1) / denom);
  }
}

void AdamW::update_8bit(const StepConstants& c, Parameter& p, Moment8& m8, Moment8& v8,
                        int64_t b) const {
  const MomentCode mcode = MomentCode::kSigned, vcode = MomentCode::kUnsigned;
  float m[kMomentBlock], v[kMomentBlock];
  const size_t len = static_cast<size_t>(std::min(kMomentBlock, m8.size() - b));
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
