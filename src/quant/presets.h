// Quantization presets ("q4_k_m", "q8_0", …) and the per-tensor type choice behind them.
//
// A preset is one of llama.cpp's file types (llama_ftype): a base block format for most weight
// matrices plus rules that give a few sensitive tensors more bits. The rules reproduce
// llama.cpp b4748's `llama_tensor_get_type` (src/llama-quant.cpp) for the dense architectures
// edgefit runs, so that a model quantized here gets the same type in every tensor as
// `llama-quantize` would give it:
//   * output.weight (or token_embd.weight when the embeddings are tied) → Q6_K, or Q8_0 when its
//     row length is not a multiple of 256;
//   * attn_v / ffn_down get more bits in the *_M / *_S / Q2_K / Q3_K mixes, on the layer schedule
//     `use_more_bits` (first and last eighth of the layers, and every third layer between);
//   * a k-quant whose 256-element super-block does not divide the row length falls back to a
//     32-element format of similar size (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0,
//     Q2_K/Q3_K → IQ4_NL), and to F16 when even 32 does not divide it;
//   * 1-D tensors (norms, biases) and other non-matrix tensors stay as they are (F32).
// The order in which tensors are visited matters (the attn_v rule of Q3_K_M counts attn_v
// tensors), so choices are made in llama-quantize's own tensor order (llama_tensor_order_less).
//
// On top of a preset the user may force types: per-tensor overrides by regex (later ones win),
// the token embedding's type and the output tensor's type. A forced type whose block size does
// not divide the tensor's row length is an error, never a silent change.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace edgefit {

struct QuantPreset {
  std::string_view name;         // lower-case name as the CLI takes it ("q4_k_m")
  uint32_t ftype;                // llama_ftype number, written to general.file_type
  DType base;                    // block format of most weight matrices
  std::string_view description;  // one line for --help and error messages
};

// Every preset edgefit can produce, from most to fewest bits.
std::span<const QuantPreset> quant_presets();
// The preset named `name` as llama-quantize takes it, or nullptr: case-insensitive ("Q4_K_M"),
// a family name for its default mix ("q4_k" is q4_k_m; q3_k, q5_k likewise), or the llama_ftype
// number ("15" is q4_k_m, "7" q8_0).
const QuantPreset* find_quant_preset(std::string_view name);
// "f32, f16, bf16, q8_0, …" for error messages.
std::string quant_preset_names();

// A tensor type the user names on the command line ("q6_k", "F16"). Throws UsageError for a name
// that is not a type edgefit can write.
DType parse_quant_type(std::string_view name);

// One `--tensor-type PATTERN=TYPE`: tensors whose name contains a match of PATTERN get TYPE.
struct TensorTypeOverride {
  std::string pattern;  // as the user wrote it (ECMAScript regex; a plain name is a substring)
  std::regex re;        // compiled pattern, applied with regex_search
  DType type;           // forced type
};
// Parses "PATTERN=TYPE"; throws UsageError on a missing '=', a bad regex or an unknown type.
TensorTypeOverride parse_tensor_type_override(std::string_view spec);

struct TypeChoiceOptions {
  const QuantPreset* preset = nullptr;        // required
  bool pure = false;                          // no per-tensor rules: base type everywhere
  bool has_imatrix = false;                   // llama.cpp changes a few rules with an imatrix
  std::vector<TensorTypeOverride> overrides;  // applied after the preset's rules, in order
  std::optional<DType> token_embedding_type;  // forced type of token_embd.weight
  std::optional<DType> output_tensor_type;    // forced type of output.weight
};

// The model facts llama.cpp's rules look at.
struct TypeChoiceModel {
  std::string architecture;  // GGUF architecture name ("llama", "qwen2", …)
  int n_layers = 0;          // transformer blocks
  int n_heads = 0;           // query heads
  int n_kv_heads = 0;        // key/value heads (n_heads / n_kv_heads = GQA factor)
};

// One tensor as the rules see it.
struct TensorDesc {
  std::string name;          // GGUF name ("blk.3.ffn_down.weight")
  std::vector<uint64_t> ne;  // extents, innermost first (ne[0] = row length)
  DType type;                // its type in the input
};

struct TensorTypeChoice {
  DType type = DType::F32;   // type the output holds
  bool quantizable = false;  // a weight matrix the preset applies to (false: kept as stored)
  bool fallback = false;     // the rules' type did not fit the row length; a fallback was taken
  std::string note;          // how the type was decided, for the per-tensor listing ("" = base)
};

// Types for every tensor of `tensors` (result in the same order), decided as llama-quantize does.
// Throws Error naming the tensor when a forced type does not fit its row length, or when the
// preset's type fits neither directly nor through a fallback (llama.cpp fails there too).
std::vector<TensorTypeChoice> choose_tensor_types(const std::vector<TensorDesc>& tensors,
                                                  const TypeChoiceModel& model,
                                                  const TypeChoiceOptions& options);

// llama-quantize's tensor order (its weights map comparator): tensors outside the blocks first,
// by name, then blk.N tensors by N and then by name. Outputs are written in this order.
bool llama_tensor_order_less(std::string_view a, std::string_view b);

// Whether llama-quantize quantizes a tensor at all: a 2-D (or higher) "*.weight" that is not a
// norm, a MoE router, a positional embedding or a convolution.
bool tensor_is_quantizable(std::string_view name, const std::vector<uint64_t>& ne);

}  // namespace edgefit
