#include "train/parameters.h"

#include <algorithm>

#include "core/error.h"
#include "model/matmul.h"

namespace edgefit::train {

ParameterSet ParameterSet::from_model(const Model& model,
                                      const std::function<bool(const ModelTensor&)>& keep) {
  ParameterSet set;
  for (const ModelTensor& t : model.tensors) {
    if (t.name == "rope_freqs.weight") continue;  // fixed frequencies, not trained
    if (keep && !keep(t)) continue;
    const TensorView& v = t.view;
    if (!can_dequantize(v.dtype) || v.packing != 0)
      throw Error("tensor '" + t.name + "' has type " + std::string(dtype_name(v.dtype)) +
                      ", which training cannot read",
                  t.source);
    Parameter& p = set.add(t.name, std::vector<int64_t>(v.shape.begin(), v.shape.begin() + v.ndim));
    // Rows of a 1-D tensor: one row of all values.
    const int64_t rows = v.ndim <= 1 ? 1 : v.n_rows(), width = v.ndim == 0 ? 1 : v.row_size();
    TensorView flat = v;
    if (v.ndim > 2) {
      const int64_t shape[2] = {rows, width};
      flat = TensorView::contiguous(v.dtype, shape, v.data);
    }
    for (int64_t r = 0; r < rows; ++r) dequantize_row(flat, r, p.value.data() + r * width);
  }
  return set;
}

Parameter& ParameterSet::add(std::string name, std::vector<int64_t> shape) {
  if (index_.count(name)) throw Error("parameter '" + name + "' added twice");
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  Parameter p;
  p.name = name;
  p.shape = std::move(shape);
  p.value.assign(static_cast<size_t>(numel), 0.0f);
  p.grad.assign(static_cast<size_t>(numel), 0.0f);
  index_[name] = params_.size();
  params_.push_back(std::move(p));
  return params_.back();
}

Parameter* ParameterSet::find(const std::string& name) {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &params_[it->second];
}

Parameter& ParameterSet::get(const std::string& name) {
  Parameter* p = find(name);
  if (!p) throw Error("model has no tensor '" + name + "'");
  return *p;
}

void Parameter::ensure_grad() {
  if (grad.empty()) grad.assign(value.size(), 0.0f);
}

void ParameterSet::zero_grad() {
  for (Parameter& p : params_) std::fill(p.grad.begin(), p.grad.end(), 0.0f);
}

void ParameterSet::release_grads() {
  for (Parameter& p : params_) std::vector<float>().swap(p.grad);
}

int64_t ParameterSet::n_values() const {
  int64_t n = 0;
  for (const Parameter& p : params_) n += static_cast<int64_t>(p.value.size());
  return n;
}

}  // namespace edgefit::train
