// The teacher of distillation, run on the fly: the uncompressed model's logits for the same
// token window the student trains on, through the inference forward pass (model/transformer.h,
// runtime kernels, a fresh KV cache per window). Teacher and student stream the same batch, so
// no logits are stored beyond the current window ([n, vocab] floats).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "formats/model.h"
#include "model/transformer.h"

namespace edgefit::train {

class Teacher {
 public:
  // `model` must outlive the teacher.
  explicit Teacher(const Model& model) : tf_(model) {}
  // Logits [n, vocab] of the window `ids` (positions 0 … n−1).
  std::vector<float> logits(std::span<const int32_t> ids);
  int vocab_size() const { return tf_.vocab_size(); }

 private:
  Transformer tf_;  // inference forward pass over the teacher's weights
};

}  // namespace edgefit::train
