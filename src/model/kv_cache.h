// Keys and values of every past position, per layer, so decoding one more token costs one
// token's worth of work instead of re-running the whole prefix. Stored in f32 (llama.cpp's
// references were made with an F32 cache as well), keys already rotated by RoPE.
#pragma once

#include <cstdint>
#include <vector>

#include "core/error.h"

namespace edgefit {

class KVCache {
 public:
  // Room for `max_tokens` positions of `n_layers` layers, each `kv_dim` = n_kv_heads·head_dim wide.
  KVCache(int n_layers, int64_t max_tokens, int64_t kv_dim)
      : n_layers_(n_layers), max_tokens_(max_tokens), kv_dim_(kv_dim) {
    const size_t per_layer = static_cast<size_t>(max_tokens * kv_dim);
    k_.assign(static_cast<size_t>(n_layers), std::vector<float>(per_layer));
    v_.assign(static_cast<size_t>(n_layers), std::vector<float>(per_layer));
  }

  int n_layers() const { return n_layers_; }        // layers cached
  int64_t size() const { return n_past_; }          // positions filled so far
  int64_t capacity() const { return max_tokens_; }  // positions it can hold
  int64_t kv_dim() const { return kv_dim_; }        // floats per position per layer
  void clear() { n_past_ = 0; }                     // start a new sequence (memory kept)
  // Drops positions >= n (e.g. to re-run a window's tail); n must not exceed size().
  void truncate(int64_t n) {
    if (n < 0 || n > n_past_) throw Error("KVCache::truncate beyond the filled positions");
    n_past_ = n;
  }

  float* k(int layer, int64_t pos) { return k_[static_cast<size_t>(layer)].data() + pos * kv_dim_; }
  float* v(int layer, int64_t pos) { return v_[static_cast<size_t>(layer)].data() + pos * kv_dim_; }
  const float* k(int layer, int64_t pos) const {
    return k_[static_cast<size_t>(layer)].data() + pos * kv_dim_;
  }
  const float* v(int layer, int64_t pos) const {
    return v_[static_cast<size_t>(layer)].data() + pos * kv_dim_;
  }

  // Called by the forward pass once all layers have written positions [size(), size() + n).
  void advance(int64_t n) { n_past_ += n; }

 private:
  int n_layers_;                       // layers cached
  int64_t max_tokens_;                 // positions each layer has room for
  int64_t kv_dim_;                     // n_kv_heads · head_dim
  int64_t n_past_ = 0;                 // positions already filled
  std::vector<std::vector<float>> k_;  // per layer: [max_tokens][kv_dim] rotated keys
  std::vector<std::vector<float>> v_;  // per layer: [max_tokens][kv_dim] values
};

}  // namespace edgefit
