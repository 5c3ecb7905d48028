// Keys and values of every past position, per layer, so decoding one more token costs one
// token's worth of work instead of re-running the whole prefix. Stored in f32 (llama.cpp's
// references were made with an F32 cache as well), keys already rotated by RoPE.
//
// Layout. Values are rows, one per position: attention adds p_j · v_j over positions j, a row at
// a time. Keys are stored transposed in blocks of 16 positions per KV head ([head_dim][16]), so
// the scores of one query against 16 keys are head_dim multiply-adds of a broadcast query element
// with 16 contiguous floats: no horizontal sums (model/attention.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/error.h"

namespace edgefit {

class KVCache {
 public:
  static constexpr int kKeyBlock = 16;  // positions per transposed key block

  // Room for `max_tokens` positions of `n_layers` layers with `n_kv_heads` heads of `head_dim`.
  KVCache(int n_layers, int64_t max_tokens, int n_kv_heads, int64_t head_dim)
      : n_layers_(n_layers),
        max_tokens_(max_tokens),
        n_kv_heads_(n_kv_heads),
        head_dim_(head_dim),
        n_blocks_((max_tokens + kKeyBlock - 1) / kKeyBlock) {
    const size_t k_per_layer = static_cast<size_t>(n_kv_heads * n_blocks_ * head_dim * kKeyBlock);
    const size_t v_per_layer = static_cast<size_t>(max_tokens * kv_dim());
    k_.assign(static_cast<size_t>(n_layers), std::vector<float>(k_per_layer));
    v_.assign(static_cast<size_t>(n_layers), std::vector<float>(v_per_layer));
  }

  int n_layers() const { return n_layers_; }                  // layers cached
  int64_t size() const { return n_past_; }                    // positions filled so far
  int64_t capacity() const { return max_tokens_; }            // positions it can hold
  int n_kv_heads() const { return n_kv_heads_; }              // key/value heads per layer
  int64_t head_dim() const { return head_dim_; }              // floats per head
  int64_t kv_dim() const { return n_kv_heads_ * head_dim_; }  // floats per position per layer
  // Bytes the cache holds (keys, padded to whole blocks, and values), for memory budgets.
  uint64_t bytes() const {
    return static_cast<uint64_t>(n_layers_) * (k_[0].size() + v_[0].size()) * sizeof(float);
  }
  void clear() { n_past_ = 0; }  // start a new sequence (memory kept)
  // Drops positions >= n (e.g. to re-run a window's tail); n must not exceed size().
  void truncate(int64_t n) {
    if (n < 0 || n > n_past_) throw Error("KVCache::truncate beyond the filled positions");
    n_past_ = n;
  }

  // Writes position `pos` of `layer`: k and v are kv_dim floats (heads one after the other).
  void store(int layer, int64_t pos, const float* k, const float* v) {
    float* kl = k_[static_cast<size_t>(layer)].data();
    for (int h = 0; h < n_kv_heads_; ++h) {
      float* blk =
          kl + ((h * n_blocks_ + pos / kKeyBlock) * head_dim_) * kKeyBlock + pos % kKeyBlock;
      for (int64_t d = 0; d < head_dim_; ++d) blk[d * kKeyBlock] = k[h * head_dim_ + d];
    }
    std::copy(v, v + kv_dim(), v_[static_cast<size_t>(layer)].data() + pos * kv_dim());
  }
  // Keys of positions 16·block … 16·block+15 of one head: [head_dim][16] (unfilled ones are junk).
  const float* key_block(int layer, int kv_head, int64_t block) const {
    return k_[static_cast<size_t>(layer)].data() +
           ((kv_head * n_blocks_ + block) * head_dim_) * kKeyBlock;
  }
  // Values of position `pos`: kv_dim floats, heads one after the other.
  const float* v(int layer, int64_t pos) const {
    return v_[static_cast<size_t>(layer)].data() + pos * kv_dim();
  }

  // Called by the forward pass once all layers have written positions [size(), size() + n).
  void advance(int64_t n) { n_past_ += n; }

 private:
  int n_layers_;                       // layers cached
  int64_t max_tokens_;                 // positions each layer has room for
  int n_kv_heads_;                     // key/value heads
  int64_t head_dim_;                   // floats per head
  int64_t n_blocks_;                   // key blocks per head: ceil(max_tokens / 16)
  int64_t n_past_ = 0;                 // positions already filled
  std::vector<std::vector<float>> k_;  // per layer: [kv head][block][head_dim][16] rotated keys
  std::vector<std::vector<float>> v_;  // per layer: [max_tokens][kv_dim] values
};

}  // namespace edgefit
