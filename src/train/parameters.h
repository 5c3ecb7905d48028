// The trainable parameters of a model as f32 tensors with gradients, under the model's GGUF
// names and in its row layout (q/k rows stay in whatever RoPE layout the file had, see
// formats/model.h; a caller comparing with Hugging Face gradients permutes with
// formats/qk_permute.h).
//
// Full-model training (this set) holds an f32 copy of every weight, which is what tiny models
// and gradient checks need. LoRA on a compressed base does not use it for the base: there the
// frozen weights stay in the model's mmaps and only the adapters live here.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "formats/model.h"

namespace edgefit::train {

struct Parameter {
  std::string name;            // GGUF tensor name ("blk.0.attn_q.weight")
  std::vector<int64_t> shape;  // outermost first, as in the model
  std::vector<float> value;    // the weights, row-major
  std::vector<float> grad;     // d loss / d value, same layout; accumulated by backward passes
                               // (empty after ParameterSet::release_grads(): all zero)

  // Sizes a released (empty) grad to zeros; a sized one keeps its values (accumulation).
  void ensure_grad();
};

class ParameterSet {
 public:
  ParameterSet() = default;
  // f32 copies of every tensor of `model` (dequantized row by row) for which `keep` is true (all
  // when it is empty), except non-parameters such as rope_freqs.weight. Throws Error for a type
  // that cannot be dequantized.
  static ParameterSet from_model(const Model& model,
                                 const std::function<bool(const ModelTensor&)>& keep = {});
  // Adds a zero-initialised parameter (adapters) and returns it. The set keeps parameters in a
  // vector, so an add() invalidates references and pointers to earlier parameters: add them all
  // first, then bind.
  Parameter& add(std::string name, std::vector<int64_t> shape);

  Parameter* find(const std::string& name);
  Parameter& get(const std::string& name);  // throws Error naming the tensor
  std::vector<Parameter>& all() { return params_; }
  const std::vector<Parameter>& all() const { return params_; }
  void zero_grad();
  // Frees every grad's storage (they then count as zero; Parameter::ensure_grad sizes one again).
  // A LoRA step starts with this rather than zero_grad(): TrainModel::forward_backward sizes a
  // block's adapter gradients only when its backward reaches that block, so the gradients of the
  // blocks not yet reached take no memory while the forward's block inputs are still held.
  void release_grads();
  int64_t n_values() const;  // total number of trainable values

 private:
  std::vector<Parameter> params_;        // in model order
  std::map<std::string, size_t> index_;  // name → position in params_
};

}  // namespace edgefit::train
