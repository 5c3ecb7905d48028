#include "formats/model.h"

#include <algorithm>

#include "core/error.h"

namespace edgefit {

bool ArchConfig::uniform_widths() const {
  for (int l = 0; l < n_layers; ++l)
    if (heads(l) != heads(0) || kv_heads(l) != kv_heads(0) || ff(l) != ff(0)) return false;
  return true;
}

void ArchConfig::set_layer_widths(std::vector<int> h, std::vector<int> kv, std::vector<int> f) {
  const size_t n = static_cast<size_t>(n_layers);
  if (h.size() != n || kv.size() != n || f.size() != n)
    throw Error("per-layer widths: " + std::to_string(n_layers) + " layers, but " +
                std::to_string(h.size()) + " head counts, " + std::to_string(kv.size()) +
                " KV head counts and " + std::to_string(f.size()) + " FFN widths");
  if (n == 0) return;
  n_heads = *std::max_element(h.begin(), h.end());
  n_kv_heads = *std::max_element(kv.begin(), kv.end());
  d_ff = *std::max_element(f.begin(), f.end());
  layer_n_heads = std::move(h);
  layer_n_kv_heads = std::move(kv);
  layer_d_ff = std::move(f);
  if (uniform_widths()) {
    layer_n_heads.clear();
    layer_n_kv_heads.clear();
    layer_d_ff.clear();
  }
}

const std::vector<std::string>& supported_architectures() {
  static const std::vector<std::string> archs = {"llama", "mistral", "qwen2", "qwen3"};
  return archs;
}

void check_supported_architecture(const std::string& arch, const std::string& file) {
  for (const auto& a : supported_architectures())
    if (a == arch) return;
  std::string list;
  for (const auto& a : supported_architectures()) list += (list.empty() ? "" : ", ") + a;
  throw Error("unknown architecture '" + arch + "' (supported: " + list + ")", file);
}

const ModelTensor* Model::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors[it->second];
}

const ModelTensor& Model::get(const std::string& name) const {
  const ModelTensor* t = find(name);
  if (!t) throw Error("model has no tensor '" + name + "'", path);
  return *t;
}

const ModelTensor& Model::get_matrix(const std::string& name, int64_t rows, int64_t cols) const {
  const ModelTensor& t = get(name);
  const TensorView& v = t.view;
  if (v.ndim != 2 || v.shape[0] != rows || v.shape[1] != cols)
    throw Error("tensor '" + name + "' has shape " + v.shape_string() + ", expected [" +
                    std::to_string(rows) + ", " + std::to_string(cols) + "]",
                t.source);
  return t;
}

void Model::index() {
  by_name_.clear();
  for (size_t k = 0; k < tensors.size(); ++k)
    if (!by_name_.emplace(tensors[k].name, k).second)
      throw Error("duplicate tensor '" + tensors[k].name + "'", path);
}

int64_t Model::n_params() const {
  int64_t n = 0;
  for (const auto& t : tensors) n += t.view.numel();
  return n;
}

uint64_t Model::tensor_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.view.nbytes();
  return n;
}

}  // namespace edgefit
