#include "formats/gguf_arch.h"

#include <algorithm>

#include "core/error.h"
#include "formats/qk_permute.h"

namespace edgefit {

namespace {

// A per-layer width of a `deci` GGUF: an array of n_layers integers, or one integer for all
// layers (llama.cpp's get_key_or_arr). Throws Error naming the key.
std::vector<int> per_layer_key(const GgufFile& f, const std::string& key, int n_layers) {
  const GgufValue& v = f.get(key);
  std::vector<int> out;
  if (v.type == GgufType::ARRAY) {
    if (static_cast<int64_t>(v.arr.size()) != n_layers)
      throw Error("metadata '" + key + "' has " + std::to_string(v.arr.size()) + " entries for " +
                      std::to_string(n_layers) + " layers",
                  f.path());
    for (const GgufValue& x : v.arr) {
      if (!x.is_integer() || x.as_int() < 0 || x.as_int() > (1 << 30))
        throw Error("metadata '" + key + "' holds an entry that is not a width", f.path());
      out.push_back(static_cast<int>(x.as_int()));
    }
  } else {
    const int64_t x = f.get_int(key);
    if (x < 0 || x > (1 << 30)) throw Error("metadata '" + key + "' is out of range", f.path());
    out.assign(static_cast<size_t>(n_layers), static_cast<int>(x));
  }
  return out;
}

}  // namespace

ArchConfig arch_config_from_gguf(const GgufFile& f) {
  ArchConfig c;
  c.architecture = f.get_string("general.architecture");
  // llama.cpp's `deci` is llama with per-layer widths (and the same interleaved RoPE rows).
  const bool deci = c.architecture == "deci";
  if (deci) c.architecture = "llama";
  check_supported_architecture(c.architecture, f.path());
  const std::string a = (deci ? std::string("deci") : c.architecture) + ".";
  auto geti = [&](const std::string& k) {
    const int64_t v = f.get_int(a + k);
    if (v < 0 || v > (1 << 30)) throw Error("metadata '" + a + k + "' is out of range", f.path());
    return static_cast<int>(v);
  };
  c.n_layers = geti("block_count");
  c.d_model = geti("embedding_length");
  if (deci) {
    auto heads = per_layer_key(f, a + "attention.head_count", c.n_layers);
    auto kv = f.find(a + "attention.head_count_kv")
                  ? per_layer_key(f, a + "attention.head_count_kv", c.n_layers)
                  : heads;
    auto ff = per_layer_key(f, a + "feed_forward_length", c.n_layers);
    c.set_layer_widths(std::move(heads), std::move(kv), std::move(ff));
    // The rest is checked per layer by check_model (formats/model_check.h).
    if (c.n_heads == 0) throw Error("metadata '" + a + "attention.head_count' is 0", f.path());
  } else {
    c.d_ff = geti("feed_forward_length");
    c.n_heads = geti("attention.head_count");
    c.n_kv_heads =
        f.find(a + "attention.head_count_kv") ? geti("attention.head_count_kv") : c.n_heads;
    if (c.n_heads == 0 || c.n_kv_heads == 0 || c.n_heads % c.n_kv_heads != 0)
      throw Error("head_count must be a positive multiple of head_count_kv", f.path());
  }
  if (f.find(a + "attention.key_length")) {
    c.head_dim = geti("attention.key_length");
  } else if (deci) {  // llama.cpp divides by the first layer's heads
    if (c.heads(0) == 0 || c.d_model % c.heads(0) != 0)
      throw Error("metadata '" + a + "attention.key_length' is missing and layer 0's heads do " +
                      "not divide '" + a + "embedding_length'",
                  f.path());
    c.head_dim = c.d_model / c.heads(0);
  } else if (c.d_model % c.n_heads != 0) {
    throw Error("metadata '" + a + "embedding_length' (" + std::to_string(c.d_model) +
                    ") is not a multiple of '" + a + "attention.head_count' (" +
                    std::to_string(c.n_heads) + ") and there is no '" + a + "attention.key_length'",
                f.path());
  } else {
    c.head_dim = c.d_model / c.n_heads;
  }
  c.max_context = f.find(a + "context_length") ? geti("context_length") : 2048;
  c.rms_eps =
      static_cast<float>(f.get_double_opt(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  c.rope_theta = static_cast<float>(f.get_double_opt(a + "rope.freq_base").value_or(10000.0));
  if (auto t = f.get_string_opt(a + "rope.scaling.type"); t && *t != "none") {
    c.rope_scaling.type = *t;
    c.rope_scaling.factor =
        static_cast<float>(f.get_double_opt(a + "rope.scaling.factor").value_or(1.0));
    c.rope_scaling.original_max_position =
        static_cast<int>(f.get_int_opt(a + "rope.scaling.original_context_length").value_or(8192));
  }
  if (const GgufTensorInfo* emb = f.find_tensor("token_embd.weight")) {
    // The embedding's rows are the vocabulary; what the metadata says must agree (llama.cpp
    // refuses a model whose vocabulary and embedding differ).
    const int64_t rows = emb->ne.size() > 1 ? static_cast<int64_t>(emb->ne[1]) : 0;
    c.vocab_size = static_cast<int>(std::min<int64_t>(rows, 1 << 30));
    if (auto v = f.get_int_opt(a + "vocab_size"); v && *v != rows)
      throw Error("metadata '" + a + "vocab_size' is " + std::to_string(*v) +
                      " but tensor 'token_embd.weight' has " + std::to_string(rows) + " rows",
                  f.path());
    if (const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
        tokens && tokens->type == GgufType::ARRAY &&
        static_cast<int64_t>(tokens->arr.size()) != rows)
      throw Error("metadata 'tokenizer.ggml.tokens' has " + std::to_string(tokens->arr.size()) +
                      " tokens but tensor 'token_embd.weight' has " + std::to_string(rows) +
                      " rows",
                  f.path());
  } else if (auto v = f.get_int_opt(a + "vocab_size")) {
    c.vocab_size = static_cast<int>(*v);
  }
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  c.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.qk_norm = f.find_tensor("blk.0.attn_q_norm.weight") != nullptr;
  // llama.cpp's converter permutes llama-family q/k rows; qwen2/qwen3 keep HF's layout and use
  // NEOX-style (rotate-half) RoPE.
  c.rope_interleaved = gguf_permutes_qk(c.architecture);
  c.bos_id = static_cast<int>(f.get_int_opt("tokenizer.ggml.bos_token_id").value_or(-1));
  c.eos_id = static_cast<int>(f.get_int_opt("tokenizer.ggml.eos_token_id").value_or(-1));
  return c;
}

std::string gguf_arch_name(const ArchConfig& c) {
  if (!c.uniform_widths()) return "deci";  // llama with per-layer widths
  return c.architecture == "mistral" ? "llama" : c.architecture;
}

std::vector<GgufKV> arch_config_to_gguf(const ArchConfig& c) {
  const std::string arch = gguf_arch_name(c);
  const std::string a = arch + ".";
  std::vector<GgufKV> kv;
  kv.push_back({"general.architecture", GgufValue::make_string(arch)});
  kv.push_back({a + "block_count", GgufValue::make_u32(c.n_layers)});
  kv.push_back({a + "context_length", GgufValue::make_u32(c.max_context)});
  kv.push_back({a + "embedding_length", GgufValue::make_u32(c.d_model)});
  const bool deci = arch == "deci";
  if (deci) {  // per-layer arrays of int32, which llama.cpp's get_key_or_arr reads
    std::vector<int32_t> heads, kv_heads, ff;
    for (int l = 0; l < c.n_layers; ++l) {
      heads.push_back(c.heads(l));
      kv_heads.push_back(c.kv_heads(l));
      ff.push_back(c.ff(l));
    }
    kv.push_back({a + "feed_forward_length", GgufValue::make_i32_array(ff)});
    kv.push_back({a + "attention.head_count", GgufValue::make_i32_array(heads)});
    kv.push_back({a + "attention.head_count_kv", GgufValue::make_i32_array(kv_heads)});
  } else {
    kv.push_back({a + "feed_forward_length", GgufValue::make_u32(c.d_ff)});
    kv.push_back({a + "attention.head_count", GgufValue::make_u32(c.n_heads)});
    kv.push_back({a + "attention.head_count_kv", GgufValue::make_u32(c.n_kv_heads)});
  }
  kv.push_back({a + "rope.freq_base", GgufValue::make_f32(c.rope_theta)});
  kv.push_back({a + "attention.layer_norm_rms_epsilon", GgufValue::make_f32(c.rms_eps)});
  if (c.head_dim * c.n_heads != c.d_model || c.architecture == "qwen3" || deci) {
    kv.push_back({a + "attention.key_length", GgufValue::make_u32(c.head_dim)});
    kv.push_back({a + "attention.value_length", GgufValue::make_u32(c.head_dim)});
  }
  if (arch == "llama" || deci) {
    kv.push_back({a + "vocab_size", GgufValue::make_u32(c.vocab_size)});
    kv.push_back({a + "rope.dimension_count", GgufValue::make_u32(c.head_dim)});
  }
  if (c.rope_scaling.type == "linear") {
    kv.push_back({a + "rope.scaling.type", GgufValue::make_string("linear")});
    kv.push_back({a + "rope.scaling.factor", GgufValue::make_f32(c.rope_scaling.factor)});
  }
  return kv;
}

}  // namespace edgefit
