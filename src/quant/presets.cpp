// Presets and llama.cpp's per-tensor type rules (see presets.h). The rules follow b4748's
// llama_tensor_get_type branch by branch; branches for architectures or file types edgefit does
// not produce (Falcon, MoE experts, the IQ1/IQ2/IQ3 mixes) are left out.
#include "quant/presets.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/error.h"
#include "core/strings.h"
#include "quant/quant_traits.h"

namespace edgefit {
namespace {

// llama_ftype numbers (llama.h), as written to general.file_type.
enum Ftype : uint32_t {
  kAllF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ8_0 = 7,
  kQ5_0 = 8,
  kQ5_1 = 9,
  kQ2_K = 10,
  kQ3_K_S = 11,
  kQ3_K_M = 12,
  kQ3_K_L = 13,
  kQ4_K_S = 14,
  kQ4_K_M = 15,
  kQ5_K_S = 16,
  kQ5_K_M = 17,
  kQ6_K = 18,
  kIQ4_NL = 25,
  kBF16 = 32,
};

constexpr QuantPreset kPresets[] = {
    {"f32", kAllF32, DType::F32, "32-bit float, no quantization"},
    {"f16", kF16, DType::F16, "16-bit float"},
    {"bf16", kBF16, DType::BF16, "bfloat16"},
    {"q8_0", kQ8_0, DType::Q8_0, "8.5 bpw, nearly lossless"},
    {"q6_k", kQ6_K, DType::Q6_K, "6.56 bpw k-quant"},
    {"q5_k_m", kQ5_K_M, DType::Q5_K, "5.5 bpw k-quant, attn_v/ffn_down partly Q6_K"},
    {"q5_k_s", kQ5_K_S, DType::Q5_K, "5.5 bpw k-quant"},
    {"q5_1", kQ5_1, DType::Q5_1, "6 bpw legacy"},
    {"q5_0", kQ5_0, DType::Q5_0, "5.5 bpw legacy"},
    {"q4_k_m", kQ4_K_M, DType::Q4_K, "4.5 bpw k-quant, attn_v/ffn_down partly Q6_K"},
    {"q4_k_s", kQ4_K_S, DType::Q4_K, "4.5 bpw k-quant, first attn_v/ffn_down Q5_K"},
    {"q4_1", kQ4_1, DType::Q4_1, "5 bpw legacy"},
    {"q4_0", kQ4_0, DType::Q4_0, "4.5 bpw legacy"},
    {"iq4_nl", kIQ4_NL, DType::IQ4_NL, "4.5 bpw non-linear"},
    {"q3_k_l", kQ3_K_L, DType::Q3_K, "3.44 bpw k-quant, attn_v/attn_output/ffn_down Q5_K"},
    {"q3_k_m", kQ3_K_M, DType::Q3_K, "3.44 bpw k-quant, attn_v/attn_output/ffn_down bumped"},
    {"q3_k_s", kQ3_K_S, DType::Q3_K, "3.44 bpw k-quant"},
    {"q2_k", kQ2_K, DType::Q2_K, "2.63 bpw k-quant, attn_v/attn_output/ffn_down Q3_K+"},
};

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// ggml_n_dims: dimensions up to the last extent above 1 (at least 1).
int n_dims(const std::vector<uint64_t>& ne) {
  int n = 1;
  for (size_t i = 0; i < ne.size(); ++i)
    if (ne[i] > 1) n = static_cast<int>(i) + 1;
  return n;
}

uint32_t block_size(DType t) {
  const DTypeInfo* info = dtype_info(t);
  return info ? info->block_size : 1;
}

bool fits(DType t, uint64_t row_len) {
  return row_len % block_size(t) == 0;
}

// The layer schedule of the *_M mixes: the first and last eighth of the layers, and every third
// layer in between, get the bigger type.
bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

// llama_tensor_get_type's fallback switch: a type of similar size whose 32-element blocks fit.
std::optional<DType> fallback_type(DType t) {
  switch (t) {
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::IQ4_XS:
      return DType::IQ4_NL;
    case DType::Q4_K:
      return DType::Q5_0;
    case DType::Q5_K:
      return DType::Q5_1;
    case DType::Q6_K:
      return DType::Q8_0;
    default:
      return std::nullopt;
  }
}

// Running state of one pass over the tensors (llama.cpp's quantize_state_impl counters).
struct RuleState {
  const TypeChoiceModel* model;  // the model's facts
  uint32_t ftype;                // preset's llama_ftype
  bool has_imatrix;              // an imatrix is in use
  bool has_output;               // the model has its own output.weight (untied)
  bool is_70b;                   // llama.cpp's LLM_TYPE_70B (80 layers with GQA)
  int n_attention_wv = 0;        // attn_v tensors in the model
  int i_attention_wv = 0;        // attn_v tensors visited so far
  int i_ffn_down = 0;            // ffn_down tensors visited so far
};

// The preset's rule for one quantizable tensor (before the row-length fallback).
DType rule_type(RuleState& s, const TensorDesc& t, DType new_type, std::string& note) {
  const std::string& name = t.name;
  const uint32_t f = s.ftype;
  const int n_gqa = s.model->n_kv_heads > 0 ? s.model->n_heads / s.model->n_kv_heads : 1;
  const uint64_t nx = t.ne.empty() ? 1 : t.ne[0];

  if (name == "output.weight" || (!s.has_output && name == "token_embd.weight")) {
    // The output projection matters most: Q6_K unless the preset is Q8_0 already.
    if (nx % block_size(new_type) != 0) {
      new_type = DType::Q8_0;
    } else if (new_type != DType::Q8_0) {
      new_type = DType::Q6_K;
    }
    note = "output rule";
  } else if (name == "token_embd.weight") {
    // No rule for the file types edgefit writes (only the IQ1/IQ2/IQ3 mixes change it).
  } else if (contains(name, "attn_v.weight")) {
    const int i = s.i_attention_wv, n = s.n_attention_wv;
    const DType before = new_type;
    if (f == kQ2_K) {
      new_type = n_gqa >= 4 ? DType::Q4_K : DType::Q3_K;
    } else if (f == kQ3_K_M) {
      new_type = i < 2 ? DType::Q5_K : DType::Q4_K;
    } else if (f == kQ3_K_L) {
      new_type = DType::Q5_K;
    } else if (f == kIQ4_NL && n_gqa >= 4) {
      new_type = DType::Q5_K;
    } else if ((f == kQ4_K_M || f == kQ5_K_M) && use_more_bits(i, n)) {
      new_type = DType::Q6_K;
    } else if (f == kQ4_K_S && i < 4) {
      new_type = DType::Q5_K;
    }
    // 70B: 8 heads share each attn_v, so it is 8x smaller than attn_q and cheap to keep better.
    if (s.is_70b && (new_type == DType::Q3_K || new_type == DType::Q4_K)) new_type = DType::Q5_K;
    if (new_type != before) note = "attn_v rule";
    ++s.i_attention_wv;
  } else if (contains(name, "ffn_down")) {
    const int i = s.i_ffn_down, n = s.model->n_layers;
    const DType before = new_type;
    if (f == kQ2_K) {
      new_type = DType::Q3_K;
    } else if (f == kQ3_K_M) {
      new_type = i < n / 16 ? DType::Q5_K : DType::Q4_K;  // the non-Falcon branch
    } else if (f == kQ3_K_L) {
      new_type = DType::Q5_K;
    } else if (f == kQ4_K_M) {
      if (use_more_bits(i, n)) new_type = DType::Q6_K;
    } else if (i < n / 8 && f == kIQ4_NL && !s.has_imatrix) {
      new_type = DType::Q5_K;
    } else if (f == kQ5_K_M && use_more_bits(i, n)) {
      new_type = DType::Q6_K;
    } else if (f == kQ4_K_S && i < n / 8) {
      new_type = DType::Q5_K;
    } else if ((f == kQ4_0 || f == kQ5_0) && s.has_imatrix && i < n / 8) {
      // llama.cpp guards the first ffn_down layers against outliers, only with an imatrix so
      // that the imatrix-free result stays what it always was.
      new_type = f == kQ4_0 ? DType::Q4_1 : DType::Q5_1;
    }
    if (new_type != before) note = "ffn_down rule";
    ++s.i_ffn_down;
  } else if (contains(name, "attn_output.weight")) {
    const DType before = new_type;
    if (f == kQ2_K)
      new_type = DType::Q3_K;
    else if (f == kQ3_K_M)
      new_type = DType::Q4_K;
    else if (f == kQ3_K_L)
      new_type = DType::Q5_K;
    if (new_type != before) note = "attn_output rule";
  } else if (contains(name, "attn_qkv.weight")) {
    const DType before = new_type;
    if (f == kQ3_K_M || f == kQ3_K_L)
      new_type = DType::Q4_K;
    else if (f == kQ4_K_M)
      new_type = DType::Q5_K;
    else if (f == kQ5_K_M)
      new_type = DType::Q6_K;
    if (new_type != before) note = "attn_qkv rule";
  }
  return new_type;
}

std::string type_str(DType t) {
  return std::string(dtype_name(t));
}

}  // namespace

std::span<const QuantPreset> quant_presets() {
  return kPresets;
}

const QuantPreset* find_quant_preset(std::string_view name) {
  // llama-quantize's aliases: a k-quant family without a size letter is its _M mix.
  constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
      {"q3_k", "q3_k_m"}, {"q4_k", "q4_k_m"}, {"q5_k", "q5_k_m"}};
  for (const auto& [alias, target] : kAliases)
    if (ascii_iequal(alias, name)) name = target;
  for (const auto& p : kPresets)
    if (ascii_iequal(p.name, name)) return &p;
  // A llama_ftype number, as llama-quantize also takes ("15" is q4_k_m).
  if (!name.empty() && name.size() <= 4 &&
      name.find_first_not_of("0123456789") == std::string_view::npos) {
    const uint32_t id = static_cast<uint32_t>(std::stoul(std::string(name)));
    for (const auto& p : kPresets)
      if (p.ftype == id) return &p;
  }
  return nullptr;
}

std::string quant_preset_names() {
  std::string s;
  for (const auto& p : kPresets) {
    if (!s.empty()) s += ", ";
    s += p.name;
  }
  return s;
}

DType parse_quant_type(std::string_view name) {
  const auto t = dtype_from_name(name);
  if (!t || !quant_traits(*t)) {
    std::string known;
    for (const auto& q : all_quant_traits()) {
      if (!known.empty()) known += ", ";
      known += ascii_lower(dtype_name(q.type));
    }
    throw UsageError("unknown tensor type '" + std::string(name) + "' (known: " + known + ")");
  }
  return *t;
}

TensorTypeOverride parse_tensor_type_override(std::string_view spec) {
  const size_t eq = spec.rfind('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == spec.size())
    throw UsageError("--tensor-type wants PATTERN=TYPE (e.g. 'ffn_down=q6_k'), got '" +
                     std::string(spec) + "'");
  TensorTypeOverride o;
  o.pattern = std::string(spec.substr(0, eq));
  o.type = parse_quant_type(spec.substr(eq + 1));
  try {
    o.re = std::regex(o.pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw UsageError("--tensor-type: bad pattern '" + o.pattern + "': " + e.what());
  }
  return o;
}

namespace {
// sscanf("blk.%d.") semantics: -1 for tensors outside the blocks.
long block_index(std::string_view n) {
  if (!n.starts_with("blk.")) return -1;
  size_t i = 4;
  long v = 0;
  bool any = false;
  while (i < n.size() && std::isdigit(static_cast<unsigned char>(n[i]))) {
    v = v * 10 + (n[i] - '0');
    any = true;
    ++i;
  }
  return any ? v : -1;
}

bool override_applies(const TensorTypeOverride& o, const std::string& name) {
  if (o.layer_first >= 0) {
    const long layer = block_index(name);
    if (layer < o.layer_first || layer > o.layer_last) return false;
  }
  return std::regex_search(name, o.re);
}
}  // namespace

bool llama_tensor_order_less(std::string_view a, std::string_view b) {
  const long la = block_index(a), lb = block_index(b);
  if (la != lb) return la < lb;
  return a < b;
}

bool tensor_is_quantizable(std::string_view name, const std::vector<uint64_t>& ne) {
  if (n_dims(ne) < 2) return false;
  if (!name.ends_with("weight")) return false;
  if (contains(name, "_norm.weight")) return false;
  if (contains(name, "ffn_gate_inp.weight")) return false;  // MoE router
  if (name == "position_embd.weight" || name == "token_types.weight") return false;
  if (contains(name, "ssm_conv1d.weight")) return false;
  if (contains(name, "attn_rel_b.weight")) return false;
  return true;
}

std::vector<TensorTypeChoice> choose_tensor_types(const std::vector<TensorDesc>& tensors,
                                                  const TypeChoiceModel& model,
                                                  const TypeChoiceOptions& options) {
  if (!options.preset) throw Error("choose_tensor_types: no preset");
  const QuantPreset& preset = *options.preset;
  const bool block_format = dtype_info(preset.base) && dtype_info(preset.base)->quantized;

  RuleState s{&model, preset.ftype, options.has_imatrix, false, false};
  for (const auto& t : tensors) {
    if (contains(t.name, "attn_v.weight") || contains(t.name, "attn_qkv.weight") ||
        contains(t.name, "attn_kv_b.weight"))
      ++s.n_attention_wv;
    else if (t.name == "output.weight")
      s.has_output = true;
  }
  // llama.cpp's LLM_TYPE_70B: 80 layers (llama needs GQA; 80 layers without it is 65B).
  s.is_70b =
      model.n_layers == 80 && (model.architecture != "llama" || model.n_heads != model.n_kv_heads);

  // Visit in llama-quantize's order: the attn_v/ffn_down counters depend on it.
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return llama_tensor_order_less(tensors[a].name, tensors[b].name);
  });

  std::vector<TensorTypeChoice> out(tensors.size());
  for (size_t idx : order) {
    const TensorDesc& t = tensors[idx];
    TensorTypeChoice& c = out[idx];
    c.type = t.type;
    c.quantizable = tensor_is_quantizable(t.name, t.ne);
    if (!c.quantizable) continue;
    const uint64_t row = t.ne.empty() ? 1 : t.ne[0];

    DType type = preset.base;
    std::string unsupported;  // set when neither the rule's type nor a fallback fits
    if (!options.pure && block_format) {
      type = rule_type(s, t, type, c.note);
      if (!fits(type, row)) {
        const auto fb = fallback_type(type);
        if (!fb) {
          unsupported = "row length " + std::to_string(row) + " is not a multiple of " +
                        std::to_string(block_size(type)) + " (required by " + type_str(type) +
                        "; llama.cpp fails here too)";
        } else {
          const DType chosen = fits(*fb, row) ? *fb : DType::F16;
          c.note = "fallback " + type_str(type) + "->" + type_str(chosen) + " (row " +
                   std::to_string(row) + ")";
          c.fallback = true;
          type = chosen;
        }
      }
    } else if (!fits(type, row)) {
      unsupported = "row length " + std::to_string(row) + " is not a multiple of " +
                    std::to_string(block_size(type)) + " (required by " + type_str(type) +
                    (options.pure ? "; --pure takes no fallback" : "") + ")";
    }

    // Forced types, later ones winning; each must fit as it is.
    bool forced = false;
    for (const auto& o : options.overrides) {
      if (override_applies(o, t.name)) {
        type = o.type;
        c.note = o.source.empty() ? "--tensor-type " + o.pattern + "=" + type_str(o.type)
                                  : o.source + " " + type_str(o.type);
        forced = true;
      }
    }
    if (options.token_embedding_type && t.name == "token_embd.weight") {
      type = *options.token_embedding_type;
      c.note = "--token-embedding-type";
      forced = true;
    }
    if (options.output_tensor_type && t.name == "output.weight") {
      type = *options.output_tensor_type;
      c.note = "--output-tensor-type";
      forced = true;
    }
    if (forced) {
      c.fallback = false;
      if (!fits(type, row))
        throw Error("tensor " + t.name + ": row length " + std::to_string(row) +
                    " is not a multiple of " + std::to_string(block_size(type)) + ", which " +
                    type_str(type) + " (" + c.note + ") requires");
    } else if (!unsupported.empty()) {
      throw Error("tensor " + t.name + ": " + unsupported +
                  "; choose another preset or force a type with "
                  "--tensor-type");
    }
    c.type = type;
  }
  return out;
}

}  // namespace edgefit
