#include "formats/hf_config.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/error.h"

namespace edgefit {
namespace {

using nlohmann::json;

// Per-layer name pairs: HF suffix after "model.layers.N." ↔ GGUF suffix after "blk.N.".
constexpr std::pair<const char*, const char*> kLayerNames[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};
constexpr std::pair<const char*, const char*> kGlobalNames[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

// Reads an integer field; throws naming the field when present with the wrong type.
int get_int(const json& j, const char* key, const std::string& file, std::optional<int> dflt = {}) {
  if (!j.contains(key) || j[key].is_null()) {
    if (dflt) return *dflt;
    throw Error(std::string("config.json lacks '") + key + "'", file);
  }
  if (!j[key].is_number_integer())
    throw Error(std::string("config.json '") + key + "' is not an integer", file);
  const int64_t v = j[key].get<int64_t>();
  if (v < 0 || v > (1 << 30))
    throw Error(std::string("config.json '") + key + "' is out of range", file);
  return static_cast<int>(v);
}

float get_float(const json& j, const char* key, const std::string& file, float dflt) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_number())
    throw Error(std::string("config.json '") + key + "' is not a number", file);
  return j[key].get<float>();
}

int first_id(const json& j, const char* key) {
  if (!j.contains(key)) return -1;
  const json& v = j[key];
  if (v.is_number_integer()) return v.get<int>();
  if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int>();
  return -1;
}

// edgefit's per-layer widths (hf_config.h): three lists of num_hidden_layers integers, all or none.
void read_layer_widths(const json& j, ArchConfig& c, const std::string& file) {
  const char* keys[3] = {kLayerHeadsKey, kLayerKvHeadsKey, kLayerFfnKey};
  int present = 0;
  for (const char* k : keys) present += j.contains(k) ? 1 : 0;
  if (present == 0) return;
  if (present != 3)
    throw Error(std::string("config.json has some but not all of '") + kLayerHeadsKey + "', '" +
                    kLayerKvHeadsKey + "', '" + kLayerFfnKey + "'",
                file);
  std::vector<int> lists[3];
  for (int i = 0; i < 3; ++i) {
    const json& a = j[keys[i]];
    if (!a.is_array() || static_cast<int64_t>(a.size()) != c.n_layers)
      throw Error(std::string("config.json '") + keys[i] + "' is not a list of " +
                      std::to_string(c.n_layers) + " integers (one per layer)",
                  file);
    for (size_t l = 0; l < a.size(); ++l) {
      if (!a[l].is_number_integer() || a[l].get<int64_t>() < 0 || a[l].get<int64_t>() > (1 << 30))
        throw Error(
            std::string("config.json '") + keys[i] + "'[" + std::to_string(l) + "] is not a width",
            file);
      lists[i].push_back(a[l].get<int>());
    }
  }
  // The scalars must be the maxima, as edgefit writes them: anything else is a hand edit gone
  // wrong, and loaders that ignore the lists would size the model by the scalars.
  const auto max_of = [](const std::vector<int>& v) {
    return *std::max_element(v.begin(), v.end());
  };
  if (max_of(lists[0]) != c.n_heads || max_of(lists[1]) != c.n_kv_heads ||
      max_of(lists[2]) != c.d_ff)
    throw Error(std::string("config.json: 'num_attention_heads', 'num_key_value_heads' and ") +
                    "'intermediate_size' must be the largest entries of the per-layer lists",
                file);
  c.set_layer_widths(std::move(lists[0]), std::move(lists[1]), std::move(lists[2]));
}

}  // namespace

static ArchConfig parse_hf_config_fields(const json& j, const std::string& file);

ArchConfig parse_hf_config(const std::string& text, const std::string& file) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(std::string("config.json is not valid JSON: ") + e.what(), file, e.byte);
  } catch (const json::exception& e) {  // e.g. a number too large for any type
    throw Error(std::string("config.json is not valid JSON: ") + e.what(), file);
  }
  try {
    return parse_hf_config_fields(j, file);
  } catch (const json::exception& e) {  // a field of the wrong JSON type
    throw Error(std::string("config.json has a field of the wrong type: ") + e.what(), file);
  }
}

static ArchConfig parse_hf_config_fields(const json& j, const std::string& file) {
  if (!j.is_object()) throw Error("config.json is not a JSON object", file);
  if (!j.contains("model_type") || !j["model_type"].is_string())
    throw Error("config.json lacks 'model_type'", file);
  ArchConfig c;
  c.architecture = j["model_type"].get<std::string>();
  check_supported_architecture(c.architecture, file);
  c.n_layers = get_int(j, "num_hidden_layers", file);
  c.d_model = get_int(j, "hidden_size", file);
  c.d_ff = get_int(j, "intermediate_size", file);
  c.n_heads = get_int(j, "num_attention_heads", file);
  c.n_kv_heads = get_int(j, "num_key_value_heads", file, c.n_heads);
  if (c.n_heads == 0 || c.n_kv_heads == 0 || c.n_heads % c.n_kv_heads != 0)
    throw Error(
        "config.json: num_attention_heads must be a positive multiple of num_key_value_heads",
        file);
  if (!j.contains("head_dim") && c.d_model % c.n_heads != 0)
    throw Error("config.json 'hidden_size' (" + std::to_string(c.d_model) +
                    ") is not a multiple of 'num_attention_heads' (" + std::to_string(c.n_heads) +
                    ") and there is no 'head_dim'",
                file);
  c.head_dim = get_int(j, "head_dim", file, c.d_model / c.n_heads);
  read_layer_widths(j, c, file);
  // The forward pass computes SwiGLU with SiLU; another activation would run silently wrong.
  if (j.contains("hidden_act") && !j["hidden_act"].is_null()) {
    if (!j["hidden_act"].is_string() || j["hidden_act"].get<std::string>() != "silu")
      throw Error(
          "config.json 'hidden_act' is " + j["hidden_act"].dump() + "; edgefit runs \"silu\" only",
          file);
  }
  c.vocab_size = get_int(j, "vocab_size", file);
  c.max_context = get_int(j, "max_position_embeddings", file, 2048);
  c.rms_eps = get_float(j, "rms_norm_eps", file, 1e-6f);
  c.rope_theta = get_float(j, "rope_theta", file, 10000.f);
  c.tied_embeddings = j.value("tie_word_embeddings", false);
  c.qkv_bias = c.architecture == "qwen2" || j.value("attention_bias", false);
  c.qk_norm = c.architecture == "qwen3";
  c.rope_interleaved = false;  // HF checkpoints use the rotate-half layout
  c.bos_id = first_id(j, "bos_token_id");
  c.eos_id = first_id(j, "eos_token_id");
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const json& rs = j["rope_scaling"];
    const std::string type = rs.value("rope_type", rs.value("type", std::string()));
    if (type != "llama3" && type != "linear" && type != "default")
      throw Error("config.json rope_scaling type '" + type + "' is not supported (llama3, linear)",
                  file);
    if (type != "default") {
      c.rope_scaling.type = type;
      c.rope_scaling.factor = get_float(rs, "factor", file, 1.f);
      c.rope_scaling.low_freq_factor = get_float(rs, "low_freq_factor", file, 1.f);
      c.rope_scaling.high_freq_factor = get_float(rs, "high_freq_factor", file, 4.f);
      c.rope_scaling.original_max_position =
          get_int(rs, "original_max_position_embeddings", file, 8192);
    }
  }
  return c;
}

std::optional<std::string> hf_to_gguf_name(const std::string& hf) {
  for (const auto& [h, g] : kGlobalNames)
    if (hf == h) return std::string(g);
  static const std::regex layer(R"(model\.layers\.(\d+)\.(.+))");
  std::smatch m;
  if (std::regex_match(hf, m, layer)) {
    for (const auto& [h, g] : kLayerNames)
      if (m[2] == h) return "blk." + m[1].str() + "." + g;
  }
  return std::nullopt;
}

std::optional<std::string> gguf_to_hf_name(const std::string& gg) {
  for (const auto& [h, g] : kGlobalNames)
    if (gg == g) return std::string(h);
  static const std::regex layer(R"(blk\.(\d+)\.(.+))");
  std::smatch m;
  if (std::regex_match(gg, m, layer)) {
    for (const auto& [h, g] : kLayerNames)
      if (m[2] == g) return "model.layers." + m[1].str() + "." + h;
  }
  return std::nullopt;
}

namespace {

// A float field as its shortest decimal (1e-05, not 9.999999747378752e-06).
double short_decimal(float f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", static_cast<double>(f));
  return std::strtod(buf, nullptr);
}

}  // namespace

std::string arch_config_to_hf_json(const ArchConfig& c, const std::string& base_json) {
  json j = base_json.empty() ? json::object() : json::parse(base_json);
  if (base_json.empty()) {
    j["architectures"] = json::array({"LlamaForCausalLM"});
    j["model_type"] = c.architecture;
    j["hidden_act"] = "silu";
    j["max_position_embeddings"] = c.max_context;
    j["rms_norm_eps"] = short_decimal(c.rms_eps);
    j["rope_theta"] = short_decimal(c.rope_theta);
    j["tie_word_embeddings"] = c.tied_embeddings;
    j["attention_bias"] = c.qkv_bias;
    j["torch_dtype"] = "float32";
    if (c.bos_id >= 0) j["bos_token_id"] = c.bos_id;
    if (c.eos_id >= 0) j["eos_token_id"] = c.eos_id;
  }
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.d_model;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim;
  j["intermediate_size"] = c.d_ff;
  j.erase(kLayerHeadsKey);
  j.erase(kLayerKvHeadsKey);
  j.erase(kLayerFfnKey);
  if (!c.uniform_widths()) {
    std::vector<int> heads, kv, ff;
    for (int l = 0; l < c.n_layers; ++l) {
      heads.push_back(c.heads(l));
      kv.push_back(c.kv_heads(l));
      ff.push_back(c.ff(l));
    }
    j[kLayerHeadsKey] = heads;
    j[kLayerKvHeadsKey] = kv;
    j[kLayerFfnKey] = ff;
  }
  return j.dump(2) + "\n";
}

}  // namespace edgefit
