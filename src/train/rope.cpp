#include "train/rope.h"

namespace edgefit::train {

RopeTable::RopeTable(const Rope& rope, int64_t n_positions)
    : rope_(&rope), n_positions_(n_positions), half_(rope.head_dim() / 2) {
  const size_t size = static_cast<size_t>(n_positions * half_);
  cos_.resize(size);
  sin_.resize(size);
  neg_sin_.resize(size);
  for (int64_t t = 0; t < n_positions; ++t)
    rope.angles(t, cos_.data() + t * half_, sin_.data() + t * half_);
  for (size_t i = 0; i < size; ++i) neg_sin_[i] = -sin_[i];
}

void RopeTable::forward(float* x, int64_t n, int n_heads) const {
  const int64_t stride = int64_t{n_heads} * rope_->head_dim();
  for (int64_t t = 0; t < n; ++t)
    rope_->rotate(x + t * stride, n_heads, cos_.data() + t * half_, sin_.data() + t * half_);
}

void RopeTable::backward(float* dx, int64_t n, int n_heads) const {
  const int64_t stride = int64_t{n_heads} * rope_->head_dim();
  for (int64_t t = 0; t < n; ++t)
    rope_->rotate(dx + t * stride, n_heads, cos_.data() + t * half_, neg_sin_.data() + t * half_);
}

}  // namespace edgefit::train
