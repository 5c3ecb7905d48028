#include "model/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "core/strings.h"

namespace edgefit {
namespace {

constexpr int kB = KVCache::kKeyBlock;
constexpr int kQ = KVCache::kQ8Block;

// fp16 with saturation: the largest finite half instead of infinity.
uint16_t to_f16_saturated(float x) {
  return fp32_to_fp16(std::clamp(x, -65504.0f, 65504.0f));
}

// ggml's quantize_row_q8_0_ref for one block of 32: d = max|x| / 127, q = round(x / d).
// Returns the fp16 scale; q receives the 32 quants.
uint16_t quantize_q8_0_block(const float* x, int8_t* q) {
  float amax = 0;
  for (int i = 0; i < kQ; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int i = 0; i < kQ; ++i) q[i] = static_cast<int8_t>(std::roundf(x[i] * id));
  return fp32_to_fp16(d);
}

int64_t key_block_bytes(KVType t, int64_t hd) {
  switch (t) {
    case KVType::F32:
      return hd * kB * 4;
    case KVType::F16:
      return hd * kB * 2;
    case KVType::Q8_0:
      return hd * kB + hd / kQ * kB * 2;  // quants, then fp16 scales
  }
  return 0;
}

int64_t head_value_bytes(KVType t, int64_t hd) {
  switch (t) {
    case KVType::F32:
      return hd * 4;
    case KVType::F16:
      return hd * 2;
    case KVType::Q8_0:
      return hd / kQ * (2 + kQ);  // block_q8_0: fp16 d, 32 int8
  }
  return 0;
}

}  // namespace

const char* kv_type_name(KVType t) {
  switch (t) {
    case KVType::F32:
      return "f32";
    case KVType::F16:
      return "f16";
    case KVType::Q8_0:
      return "q8_0";
  }
  return "?";
}

KVType parse_kv_type(std::string_view name) {
  const std::string s = ascii_lower(name);
  if (s == "f32") return KVType::F32;
  if (s == "f16") return KVType::F16;
  if (s == "q8_0") return KVType::Q8_0;
  throw Error("unknown KV cache type '" + std::string(name) + "' (supported: f16, q8_0, f32)");
}

KVCache::KVCache(int n_layers, int64_t max_tokens, int n_kv_heads, int64_t head_dim, KVType type_k,
                 KVType type_v)
    : n_layers_(n_layers),
      max_tokens_(max_tokens),
      n_kv_heads_(n_kv_heads),
      head_dim_(head_dim),
      type_k_(type_k),
      type_v_(type_v),
      n_blocks_((max_tokens + kKeyBlock - 1) / kKeyBlock),
      key_block_bytes_(key_block_bytes(type_k, head_dim)),
      value_row_bytes_(n_kv_heads * head_value_bytes(type_v, head_dim)) {
  if (head_dim > kMaxHeadDim)
    throw Error("head_dim " + std::to_string(head_dim) + " is over the KV cache's limit of " +
                std::to_string(kMaxHeadDim));
  if ((type_k == KVType::Q8_0 || type_v == KVType::Q8_0) && head_dim % kQ8Block != 0)
    throw Error("a q8_0 KV cache needs head_dim to be a multiple of 32 (the model's is " +
                std::to_string(head_dim) + "); use f16");
  const size_t k_per_layer = static_cast<size_t>(n_kv_heads * n_blocks_ * key_block_bytes_);
  const size_t v_per_layer = static_cast<size_t>(max_tokens * value_row_bytes_);
  k_.assign(static_cast<size_t>(n_layers), std::vector<uint8_t>(k_per_layer));
  v_.assign(static_cast<size_t>(n_layers), std::vector<uint8_t>(v_per_layer));
}

uint64_t KVCache::bytes_for(int n_layers, int64_t max_tokens, int n_kv_heads, int64_t head_dim,
                            KVType type_k, KVType type_v) {
  const uint64_t blocks = static_cast<uint64_t>((max_tokens + kKeyBlock - 1) / kKeyBlock);
  const uint64_t k = static_cast<uint64_t>(n_kv_heads) * blocks *
                     static_cast<uint64_t>(key_block_bytes(type_k, head_dim));
  const uint64_t v = static_cast<uint64_t>(max_tokens) * static_cast<uint64_t>(n_kv_heads) *
                     static_cast<uint64_t>(head_value_bytes(type_v, head_dim));
  return static_cast<uint64_t>(n_layers) * (k + v);
}

void KVCache::store(int layer, int64_t pos, const float* k, const float* v, int n_heads) {
  const int64_t hd = head_dim_;
  const int64_t lane = pos % kB;
  const int heads = n_heads < 0 ? n_kv_heads_ : std::min(n_heads, n_kv_heads_);
  const int64_t v_elems = heads * hd;  // value elements written (kv_dim() for a full layer)
  for (int h = 0; h < heads; ++h) {
    uint8_t* blk =
        k_[static_cast<size_t>(layer)].data() + (h * n_blocks_ + pos / kB) * key_block_bytes_;
    const float* kh = k + h * hd;
    switch (type_k_) {
      case KVType::F32:
        for (int64_t d = 0; d < hd; ++d) std::memcpy(blk + (d * kB + lane) * 4, kh + d, 4);
        break;
      case KVType::F16:
        for (int64_t d = 0; d < hd; ++d) {
          const uint16_t x = to_f16_saturated(kh[d]);
          std::memcpy(blk + (d * kB + lane) * 2, &x, 2);
        }
        break;
      case KVType::Q8_0: {
        uint8_t* scales = blk + hd * kB;
        for (int64_t c = 0; c < hd / kQ; ++c) {
          int8_t q[kQ];
          const uint16_t d16 = quantize_q8_0_block(kh + c * kQ, q);
          for (int i = 0; i < kQ; ++i) blk[(c * kQ + i) * kB + lane] = static_cast<uint8_t>(q[i]);
          std::memcpy(scales + (c * kB + lane) * 2, &d16, 2);
        }
        break;
      }
    }
  }
  uint8_t* row = v_[static_cast<size_t>(layer)].data() + pos * value_row_bytes_;
  switch (type_v_) {
    case KVType::F32:
      std::memcpy(row, v, static_cast<size_t>(v_elems) * 4);
      break;
    case KVType::F16:
      for (int64_t i = 0; i < v_elems; ++i) {
        const uint16_t x = to_f16_saturated(v[i]);
        std::memcpy(row + i * 2, &x, 2);
      }
      break;
    case KVType::Q8_0:
      for (int64_t c = 0; c < v_elems / kQ; ++c) {
        uint8_t* blk = row + c * (2 + kQ);
        const uint16_t d16 = quantize_q8_0_block(v + c * kQ, reinterpret_cast<int8_t*>(blk + 2));
        std::memcpy(blk, &d16, 2);
      }
      break;
  }
}

void KVCache::key(int layer, int kv_head, int64_t pos, float* out) const {
  const uint8_t* blk = key_block(layer, kv_head, pos / kB);
  const int64_t lane = pos % kB;
  for (int64_t d = 0; d < head_dim_; ++d) {
    const int64_t at = d * kB + lane;
    switch (type_k_) {
      case KVType::F32:
        std::memcpy(out + d, blk + at * 4, 4);
        break;
      case KVType::F16: {
        uint16_t h;
        std::memcpy(&h, blk + at * 2, 2);
        out[d] = fp16_to_fp32(h);
        break;
      }
      case KVType::Q8_0: {
        uint16_t h;
        std::memcpy(&h, blk + head_dim_ * kB + ((d / kQ) * kB + lane) * 2, 2);
        out[d] = fp16_to_fp32(h) * static_cast<float>(static_cast<int8_t>(blk[at]));
        break;
      }
    }
  }
}

void KVCache::value(int layer, int kv_head, int64_t pos, float* out) const {
  const uint8_t* row = value_row(layer, pos) + kv_head * value_head_bytes();
  for (int64_t d = 0; d < head_dim_; ++d) {
    switch (type_v_) {
      case KVType::F32:
        std::memcpy(out + d, row + d * 4, 4);
        break;
      case KVType::F16: {
        uint16_t h;
        std::memcpy(&h, row + d * 2, 2);
        out[d] = fp16_to_fp32(h);
        break;
      }
      case KVType::Q8_0: {
        const uint8_t* blk = row + (d / kQ) * (2 + kQ);
        uint16_t h;
        std::memcpy(&h, blk, 2);
        out[d] = fp16_to_fp32(h) * static_cast<float>(static_cast<int8_t>(blk[2 + d % kQ]));
        break;
      }
    }
  }
}

}  // namespace edgefit
