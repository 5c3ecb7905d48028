#include "formats/model.h"

#include "core/error.h"

namespace edgefit {

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
