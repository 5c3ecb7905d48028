#include "compress/method_registry.h"

#include "core/error.h"

namespace edgefit {

// Each entry lives beside its block adapter.
extern const CalibMethod kGptqMethod;         // gptq_block.cpp
extern const CalibMethod kAwqMethod;          // awq_block.cpp
extern const CalibMethod kSmoothQuantMethod;  // smoothquant_block.cpp
extern const CalibMethod kMagnitudeMethod;    // magnitude_block.cpp
extern const CalibMethod kWandaMethod;        // wanda_block.cpp
extern const CalibMethod kSparseGptMethod;    // sparsegpt_block.cpp

const std::vector<const CalibMethod*>& calib_methods() {
  static const std::vector<const CalibMethod*> methods = {&kGptqMethod,        &kAwqMethod,
                                                          &kSmoothQuantMethod, &kMagnitudeMethod,
                                                          &kWandaMethod,       &kSparseGptMethod};
  return methods;
}

const CalibMethod* find_calib_method(std::string_view name) {
  for (const CalibMethod* m : calib_methods())
    if (m->name == name) return m;
  return nullptr;
}

std::string calib_method_names() {
  std::string s;
  for (const CalibMethod* m : calib_methods()) s += (s.empty() ? "" : ", ") + std::string(m->name);
  return s;
}

std::string pruning_method_names() {
  std::string s;
  for (const CalibMethod* m : calib_methods())
    if (m->prunes) s += (s.empty() ? "" : ", ") + std::string(m->name);
  return s;
}

const CalibMethod& calib_method(const CalibratedOptions& co) {
  const CalibMethod* m = find_calib_method(co.method);
  if (!m)
    throw UsageError("unknown calibration method '" + co.method +
                     "' (known: " + calib_method_names() + ")");
  return *m;
}

std::unique_ptr<BlockMethod> make_block_method(const CalibratedOptions& co) {
  return calib_method(co).make(co);
}

void apply_method_params(const MethodSpec& spec, CalibratedOptions& co, const std::string& file) {
  co.method = spec.name;
  const CalibMethod& m = calib_method(co);
  for (auto it = spec.params.begin(); it != spec.params.end(); ++it) {
    const std::string& k = it.key();
    const std::string field = "method.params." + k;
    if (k == "samples")
      read_method_param(it.value(), field, file, co.samples);
    else if (k == "seqlen")
      read_method_param(it.value(), field, file, co.seqlen);
    else if (!m.read_param(k, it.value(), field, file, co))
      throw Error(field + ": unknown parameter for " + spec.name, file);
  }
}

void write_safetensors_export(const CalibratedOptions& co, const Model& model,
                              const QuantizePlan& plan, const WorkDir& wd,
                              const std::string& path) {
  const CalibMethod& m = calib_method(co);
  if (!m.write_safetensors) {
    std::string with;
    for (const CalibMethod* x : calib_methods())
      if (x->write_safetensors) with += (with.empty() ? "" : ", ") + std::string(x->name);
    throw UsageError("a safetensors export exists only for --method " + with);
  }
  m.write_safetensors(model, plan, wd, path);
}

}  // namespace edgefit
