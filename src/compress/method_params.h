// A calibration method's own settings (GPTQ's damp / act_order / block size, AWQ's grid,
// SmoothQuant's alpha, …) live in a struct in the method's folder, next to its registry entry.
// The shared CalibratedOptions hold them without knowing their fields: MethodSettings keeps one
// struct per method type, filled by the method's read_param hook (recipe parameters, and the
// CLI flags the method declares) and read by its make / metadata / describe hooks.
#pragma once

#include <map>
#include <memory>
#include <typeindex>

namespace edgefit {

// Base of every method's settings struct; derive through MethodParamsOf<Self>.
struct MethodParams {
  virtual ~MethodParams() = default;
  virtual std::unique_ptr<MethodParams> clone() const = 0;
};

// CRTP helper: `struct GptqParams : MethodParamsOf<GptqParams> { double damp = 0.01; … };`.
template <typename Self>
struct MethodParamsOf : MethodParams {
  std::unique_ptr<MethodParams> clone() const override {
    return std::make_unique<Self>(static_cast<const Self&>(*this));
  }
};

// One settings struct per method type; a copy copies them (so options stay plain values).
class MethodSettings {
 public:
  MethodSettings() = default;
  MethodSettings(const MethodSettings& other) { *this = other; }
  MethodSettings& operator=(const MethodSettings& other) {
    if (this == &other) return *this;
    by_type_.clear();
    for (const auto& [type, p] : other.by_type_) by_type_.emplace(type, p->clone());
    return *this;
  }
  MethodSettings(MethodSettings&&) = default;
  MethodSettings& operator=(MethodSettings&&) = default;

  // The method's settings to change (created with its defaults on first use).
  template <typename P>
  P& of() {
    auto& slot = by_type_[std::type_index(typeid(P))];
    if (!slot) slot = std::make_unique<P>();
    return static_cast<P&>(*slot);
  }
  // The method's settings as set so far, or its defaults.
  template <typename P>
  P get() const {
    const auto it = by_type_.find(std::type_index(typeid(P)));
    return it == by_type_.end() ? P{} : static_cast<const P&>(*it->second);
  }

 private:
  std::map<std::type_index, std::unique_ptr<MethodParams>> by_type_;  // method type → settings
};

}  // namespace edgefit
