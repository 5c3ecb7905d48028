// Keys and values of every past position, per layer, so decoding one more token costs one
// token's worth of work instead of re-running the whole prefix. Keys are stored already rotated by
// RoPE.
//
// Element types (llama.cpp's `--cache-type-k/-v`): F32 (what llama.cpp's logits references in
// ../shared/ref/logits were made with, so the forward-pass tests use it), F16 (llama.cpp's
// default, used by bench, generate and eval: half the bytes, which is what decode at depth
// streams per token; the perplexity references were made with it), and Q8_0 (ggml's 32-element
// blocks with an fp16 scale: 34 bytes per 32 values). Conversions happen once, when a position is
// stored; attention reads the stored type directly (model/attention.h).
//
// Layout. Values are rows, one per position: attention adds p_j · v_j over positions j, a row at
// a time. Value rows are exactly ggml's rows of the same type (Q8_0: block_q8_0 per 32 elements).
// Keys are stored transposed in blocks of 16 positions per KV head ([head_dim][16] elements), so
// the scores of one query against 16 keys are head_dim multiply-adds of a broadcast query element
// with 16 contiguous keys: no horizontal sums. A Q8_0 key block holds the int8 quants
// [head_dim][16] and then the fp16 scales [head_dim/32][16]: each position's head vector is
// quantized in 32-element blocks exactly as ggml's Q8_0 K cache would, only stored transposed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace edgefit {

// Element type of the cached keys or values.
enum class KVType { F32, F16, Q8_0 };

// "f32", "f16", "q8_0" (llama.cpp's spelling of the cache types).
const char* kv_type_name(KVType t);
// Parses llama.cpp's cache type names (case-insensitive); throws Error naming the accepted ones.
KVType parse_kv_type(std::string_view name);

class KVCache {
 public:
  static constexpr int kKeyBlock = 16;     // positions per transposed key block
  static constexpr int kQ8Block = 32;      // elements per Q8_0 block (ggml's QK8_0)
  static constexpr int kMaxHeadDim = 512;  // attention keeps one head's accumulators on the stack

  // Room for `max_tokens` positions of `n_layers` layers with `n_kv_heads` heads of `head_dim`.
  // Throws Error when a Q8_0 type meets a head_dim that is not a multiple of 32, or head_dim is
  // over kMaxHeadDim.
  KVCache(int n_layers, int64_t max_tokens, int n_kv_heads, int64_t head_dim,
          KVType type_k = KVType::F32, KVType type_v = KVType::F32);

  // Bytes such a cache holds (keys, padded to whole blocks, and values), computed without
  // allocating: memory budgets check it before anything is allocated.
  static uint64_t bytes_for(int n_layers, int64_t max_tokens, int n_kv_heads, int64_t head_dim,
                            KVType type_k, KVType type_v);

  int n_layers() const { return n_layers_; }                  // layers cached
  int64_t size() const { return n_past_; }                    // positions filled so far
  int64_t capacity() const { return max_tokens_; }            // positions it can hold
  int n_kv_heads() const { return n_kv_heads_; }              // key/value heads per layer
  int64_t head_dim() const { return head_dim_; }              // elements per head
  int64_t kv_dim() const { return n_kv_heads_ * head_dim_; }  // elements per position per layer
  KVType type_k() const { return type_k_; }                   // element type of the keys
  KVType type_v() const { return type_v_; }                   // element type of the values
  // Bytes the cache holds, for memory budgets.
  uint64_t bytes() const {
    return static_cast<uint64_t>(n_layers_) * (k_[0].size() + v_[0].size());
  }
  void clear() { n_past_ = 0; }  // start a new sequence (memory kept)
  // Drops positions >= n (e.g. to re-run a window's tail); n must not exceed size().
  void truncate(int64_t n) {
    if (n < 0 || n > n_past_) throw Error("KVCache::truncate beyond the filled positions");
    n_past_ = n;
  }

  // Writes position `pos` of `layer`: k and v are kv_dim floats (heads one after the other),
  // converted to the cache's types. F16 saturates at ±65504 instead of becoming infinite, so one
  // outlier activation cannot turn every later attention output into NaN.
  // A layer with fewer KV heads than the cache (per-layer widths) passes `n_heads`: its heads
  // fill the first slots and the rest stay unused; -1 means all.
  void store(int layer, int64_t pos, const float* k, const float* v, int n_heads = -1);

  // Stored bytes of key block `block` (positions 16·block … 16·block+15) of one head, in the
  // layout above for type_k() (unfilled positions are junk).
  const uint8_t* key_block(int layer, int kv_head, int64_t block) const {
    return k_[static_cast<size_t>(layer)].data() + (kv_head * n_blocks_ + block) * key_block_bytes_;
  }
  // Stored bytes of the value row of position `pos`: kv_dim elements of type_v(), heads one
  // after the other (Q8_0: head_dim/32 blocks per head).
  const uint8_t* value_row(int layer, int64_t pos) const {
    return v_[static_cast<size_t>(layer)].data() + pos * value_row_bytes_;
  }
  // Bytes of one position's value row (all heads), and of one head's part of it.
  int64_t value_row_bytes() const { return value_row_bytes_; }
  int64_t value_head_bytes() const { return value_row_bytes_ / n_kv_heads_; }

  // The key / value of one head at `pos` as floats (head_dim of them), as attention sees them
  // after conversion: for references and tests, not for the hot loop.
  void key(int layer, int kv_head, int64_t pos, float* out) const;
  void value(int layer, int kv_head, int64_t pos, float* out) const;

  // Called by the forward pass once all layers have written positions [size(), size() + n).
  void advance(int64_t n) { n_past_ += n; }

 private:
  int n_layers_;                         // layers cached
  int64_t max_tokens_;                   // positions each layer has room for
  int n_kv_heads_;                       // key/value heads
  int64_t head_dim_;                     // elements per head
  KVType type_k_;                        // key element type
  KVType type_v_;                        // value element type
  int64_t n_blocks_;                     // key blocks per head: ceil(max_tokens / 16)
  int64_t key_block_bytes_;              // bytes of one [head_dim][16] key block (with scales)
  int64_t value_row_bytes_;              // bytes of one position's value row (all heads)
  int64_t n_past_ = 0;                   // positions already filled
  std::vector<std::vector<uint8_t>> k_;  // per layer: [kv head][block] key blocks
  std::vector<std::vector<uint8_t>> v_;  // per layer: [max_tokens] value rows
};

}  // namespace edgefit
