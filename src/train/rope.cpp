#include "train/rope.h"

#include "core/thread_pool.h"

namespace edgefit::train {

constexpr int64_t kPositionGrain = 32;  // positions per pool chunk, at least

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
  // Positions are independent (same bits for any split): the pool takes blocks of them.
  ThreadPool::global().parallel_for(n, kPositionGrain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      rope_->rotate(x + t * stride, n_heads, cos_.data() + t * half_, sin_.data() + t * half_);
  });
}

void RopeTable::backward(float* dx, int64_t n, int n_heads) const {
  const int64_t stride = int64_t{n_heads} * rope_->head_dim();
  ThreadPool::global().parallel_for(n, kPositionGrain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      rope_->rotate(dx + t * stride, n_heads, cos_.data() + t * half_, neg_sin_.data() + t * half_);
  });
}

}  // namespace edgefit::train
