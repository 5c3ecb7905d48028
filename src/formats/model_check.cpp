#include "formats/model_check.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "formats/hf_config.h"

namespace edgefit {
namespace {

// One hyperparameter's name in each source format.
struct FieldName {
  const char* hf;       // config.json key
  const char* gguf;     // GGUF metadata key after "<arch>."
  const char* llama2c;  // llama2.c header field
};

constexpr FieldName kLayers{"num_hidden_layers", "block_count", "n_layers"};
constexpr FieldName kHidden{"hidden_size", "embedding_length", "dim"};
constexpr FieldName kHeads{"num_attention_heads", "attention.head_count", "n_heads"};
constexpr FieldName kKvHeads{"num_key_value_heads", "attention.head_count_kv", "n_kv_heads"};
constexpr FieldName kHeadDim{"head_dim", "attention.key_length", "dim / n_heads"};
constexpr FieldName kFfn{"intermediate_size", "feed_forward_length", "hidden_dim"};
constexpr FieldName kVocab{"vocab_size", "vocab_size", "vocab_size"};
constexpr FieldName kContext{"max_position_embeddings", "context_length", "seq_len"};
constexpr FieldName kEps{"rms_norm_eps", "attention.layer_norm_rms_epsilon", "rms_norm_eps"};
constexpr FieldName kTheta{"rope_theta", "rope.freq_base", "rope_theta"};
constexpr FieldName kRopeFactor{"rope_scaling.factor", "rope.scaling.factor", "rope_scaling"};

// "config.json 'hidden_size'", "metadata 'llama.embedding_length'", "header field 'dim'".
std::string field(const FieldName& f, const ArchConfig& c, const std::string& format) {
  if (format == "gguf") return "metadata '" + c.architecture + "." + f.gguf + "'";
  if (format == "llama2c") return std::string("header field '") + f.llama2c + "'";
  return std::string("config.json '") + f.hf + "'";
}

std::string dims(std::initializer_list<int64_t> d) {
  std::string s = "[";
  for (int64_t x : d) s += (s.size() > 1 ? ", " : "") + std::to_string(x);
  return s + "]";
}

// Where config errors point: config.json inside an HF folder, else the model file.
std::string config_file(const Model& m) {
  if (m.format != "safetensors") return m.path;
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(m.path);
  return ((fs::is_directory(p, ec) ? p : p.parent_path()) / "config.json").string();
}

class TensorChecker {
 public:
  explicit TensorChecker(const Model& m) : m_(m) {}

  // A matrix {rows, cols} (outermost first, as PyTorch stores a linear layer {out, in}).
  void matrix(const std::string& name, int64_t rows, int64_t cols, const std::string& why,
              bool required = true) const {
    const ModelTensor* t = find(name, required);
    if (!t) return;
    const TensorView& v = t->view;
    if (v.ndim != 2 || v.shape[0] != rows || v.shape[1] != cols)
      throw Error("tensor '" + name + "' has shape " + v.shape_string() + ", expected " +
                      dims({rows, cols}) + " (" + why + ")",
                  t->source);
  }

  // A vector of n values (norm gains, biases); a {1, n} view is the same vector.
  void vector(const std::string& name, int64_t n, const std::string& why,
              bool required = true) const {
    const ModelTensor* t = find(name, required);
    if (!t) return;
    if (t->view.numel() != n || t->view.row_size() != n)
      throw Error("tensor '" + name + "' has shape " + t->view.shape_string() + ", expected " +
                      dims({n}) + " (" + why + ")",
                  t->source);
  }

 private:
  const ModelTensor* find(const std::string& name, bool required) const {
    const ModelTensor* t = m_.find(name);
    if (!t && required) throw Error("model has no tensor '" + name + "'", m_.path);
    return t;
  }

  const Model& m_;  // the model whose tensors are checked
};

// The layer number of a "blk.<N>.…" name, or -1.
int64_t layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  char* end = nullptr;
  const long long n = std::strtoll(name.c_str() + 4, &end, 10);
  return end && *end == '.' && end != name.c_str() + 4 ? n : -1;
}

// "metadata 'deci.attention.head_count'[3]", "config.json 'layer_num_attention_heads'[3]": one
// layer's entry of a per-layer width (hf_config.h names the config.json lists).
std::string layer_field(const FieldName& f, const char* hf_list, const ArchConfig& c,
                        const std::string& format, int l) {
  const std::string where = "[" + std::to_string(l) + "]";
  if (c.layer_n_heads.empty()) return field(f, c, format);
  if (format == "gguf") return "metadata 'deci." + std::string(f.gguf) + "'" + where;
  return std::string("config.json '") + hf_list + "'" + where;
}

constexpr const char* kHfHeadsList = kLayerHeadsKey;  // formats/hf_config.h
constexpr const char* kHfKvList = kLayerKvHeadsKey;
constexpr const char* kHfFfnList = kLayerFfnKey;

// Per-layer widths: n_layers entries each, within [0, the scalar maximum]; a layer with
// attention has query heads a multiple of its KV heads. Attention-free layers (0 query heads) are
// llama.cpp's `deci` convention; its "linear attention" (query heads but no KV heads) and
// FFN-free layers are not run by edgefit.
void check_layer_widths(const ArchConfig& c, const std::string& format, const std::string& file) {
  if (c.layer_n_heads.empty() && c.layer_n_kv_heads.empty() && c.layer_d_ff.empty()) return;
  const size_t n = static_cast<size_t>(c.n_layers);
  if (c.layer_n_heads.size() != n || c.layer_n_kv_heads.size() != n || c.layer_d_ff.size() != n)
    throw Error("per-layer widths have " + std::to_string(c.layer_n_heads.size()) + ", " +
                    std::to_string(c.layer_n_kv_heads.size()) + " and " +
                    std::to_string(c.layer_d_ff.size()) + " entries for " +
                    std::to_string(c.n_layers) + " layers",
                file);
  for (int l = 0; l < c.n_layers; ++l) {
    const int h = c.heads(l), kv = c.kv_heads(l), f = c.ff(l);
    if (h < 0 || h > c.n_heads)
      throw Error(layer_field(kHeads, kHfHeadsList, c, format, l) + " is " + std::to_string(h) +
                      "; it must be in [0, " + std::to_string(c.n_heads) + "]",
                  file);
    if (kv < 0 || kv > c.n_kv_heads)
      throw Error(layer_field(kKvHeads, kHfKvList, c, format, l) + " is " + std::to_string(kv) +
                      "; it must be in [0, " + std::to_string(c.n_kv_heads) + "]",
                  file);
    if (h > 0 && kv == 0)
      throw Error(
          layer_field(kKvHeads, kHfKvList, c, format, l) +
              " is 0 with query heads: a linear-attention layer, which edgefit does not run",
          file);
    if (kv > 0 && h % kv != 0)
      throw Error(layer_field(kHeads, kHfHeadsList, c, format, l) + " (" + std::to_string(h) +
                      ") is not a multiple of " + layer_field(kKvHeads, kHfKvList, c, format, l) +
                      " (" + std::to_string(kv) + ")",
                  file);
    if (f <= 0 || f > c.d_ff)
      throw Error(layer_field(kFfn, kHfFfnList, c, format, l) + " is " + std::to_string(f) +
                      "; it must be in [1, " + std::to_string(c.d_ff) + "]",
                  file);
  }
}

}  // namespace

void check_arch_config(const ArchConfig& c, const std::string& format, const std::string& file) {
  const auto positive = [&](int64_t v, const FieldName& f) {
    if (v <= 0)
      throw Error(field(f, c, format) + " is " + std::to_string(v) + "; it must be positive", file);
  };
  positive(c.n_layers, kLayers);
  positive(c.d_model, kHidden);
  positive(c.n_heads, kHeads);
  positive(c.n_kv_heads, kKvHeads);
  positive(c.head_dim, kHeadDim);
  positive(c.d_ff, kFfn);
  positive(c.vocab_size, kVocab);
  positive(c.max_context, kContext);
  if (c.n_heads % c.n_kv_heads != 0)
    throw Error(field(kHeads, c, format) + " (" + std::to_string(c.n_heads) +
                    ") is not a multiple of " + field(kKvHeads, c, format) + " (" +
                    std::to_string(c.n_kv_heads) + ")",
                file);
  if (c.head_dim % 2 != 0)
    throw Error(field(kHeadDim, c, format) + " is " + std::to_string(c.head_dim) +
                    "; RoPE needs an even head width",
                file);
  const auto positive_finite = [&](double v, const FieldName& f) {
    if (!(v > 0) || !std::isfinite(v))
      throw Error(field(f, c, format) + " is " + std::to_string(v) +
                      "; it must be a positive finite number",
                  file);
  };
  positive_finite(c.rms_eps, kEps);
  positive_finite(c.rope_theta, kTheta);
  if (!c.rope_scaling.type.empty()) positive_finite(c.rope_scaling.factor, kRopeFactor);
  check_layer_widths(c, format, file);
}

void check_model(const Model& m) {
  const ArchConfig& c = m.config;
  check_arch_config(c, m.format, config_file(m));
  const int64_t d = c.d_model;
  const TensorChecker t(m);
  t.matrix("token_embd.weight", c.vocab_size, d, "vocab_size x hidden_size");
  t.matrix("output.weight", c.vocab_size, d, "vocab_size x hidden_size", /*required=*/false);
  t.vector("output_norm.weight", d, "hidden_size");
  t.vector("rope_freqs.weight", c.head_dim / 2, "head_dim / 2", false);
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const int64_t q_dim = int64_t{c.heads(l)} * c.head_dim,
                  kv_dim = int64_t{c.kv_heads(l)} * c.head_dim, ff = c.ff(l);
    // Which field a wrong shape contradicts: the layer's own entry when widths differ per layer.
    // (Uniform models keep their messages as they were.)
    const bool per_layer = !c.layer_n_heads.empty();
    const auto of = [&](const FieldName& f, const char* list) {
      return per_layer ? "; " + layer_field(f, list, c, m.format, l) : std::string();
    };
    const std::string heads = of(kHeads, kHfHeadsList), kv_heads = of(kKvHeads, kHfKvList),
                      ffn = of(kFfn, kHfFfnList);
    if (c.heads(l) > 0) {
      t.vector(p + "attn_norm.weight", d, "hidden_size");
      t.matrix(p + "attn_q.weight", q_dim, d, "heads x head_dim, hidden_size" + heads);
      t.matrix(p + "attn_k.weight", kv_dim, d, "kv_heads x head_dim, hidden_size" + kv_heads);
      t.matrix(p + "attn_v.weight", kv_dim, d, "kv_heads x head_dim, hidden_size" + kv_heads);
      t.matrix(p + "attn_output.weight", d, q_dim, "hidden_size, heads x head_dim" + heads);
      t.vector(p + "attn_q.bias", q_dim, "heads x head_dim" + heads, false);
      t.vector(p + "attn_k.bias", kv_dim, "kv_heads x head_dim" + kv_heads, false);
      t.vector(p + "attn_v.bias", kv_dim, "kv_heads x head_dim" + kv_heads, false);
      t.vector(p + "attn_q_norm.weight", c.head_dim, "head_dim", false);
      t.vector(p + "attn_k_norm.weight", c.head_dim, "head_dim", false);
    }
    t.vector(p + "ffn_norm.weight", d, "hidden_size");
    t.matrix(p + "ffn_gate.weight", ff, d, "intermediate_size x hidden_size" + ffn);
    t.matrix(p + "ffn_up.weight", ff, d, "intermediate_size x hidden_size" + ffn);
    t.matrix(p + "ffn_down.weight", d, ff, "hidden_size x intermediate_size" + ffn);
  }
  for (const ModelTensor& x : m.tensors)
    if (const int64_t l = layer_of(x.name); l >= c.n_layers)
      throw Error("tensor '" + x.name + "' belongs to layer " + std::to_string(l) + ", but " +
                      field(kLayers, c, m.format) + " is " + std::to_string(c.n_layers),
                  x.source);
}

}  // namespace edgefit
