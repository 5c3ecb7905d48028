// A Recipe: one description of a compressed model, independent of any one model file.
//
// It says, per tensor (rules matched by name pattern and layer range, like llama.cpp's
// `--tensor-type`), how each weight is stored (format, packing), thinned (sparsity) and rounded
// (method and its parameters), and, for the model as a whole, which recovery steps follow
// (LoRA, QAT, distillation) and what is exported. A llama.cpp preset is a recipe whose `base`
// names the preset and whose rules are empty (preset_recipe.h); `edgefit plan` writes one,
// `edgefit quantize/compress --recipe` read one.
//
// JSON form (schema_version 1; every field but schema_version and base is optional):
//   {"schema_version": 1, "name": "q4_k_m", "base": "q4_k_m", "pure": false,
//    "method": {"name": "gptq", "params": {"damp": 0.01}},
//    "rules": [{"match": "ffn_down", "layers": [0, 3], "format": "q6_k", "packing": "default",
//               "sparsity": {"kind": "n:m", "n": 2, "m": 4}, "method": {"name": "rtn"}}],
//    "recovery": [{"kind": "lora", "params": {"rank": 16}}],
//    "export": [{"format": "gguf"}], "device": "raspberry-pi-5"}
// Reading rejects unknown fields, unknown formats and methods, invalid regexes and impossible
// sparsity with an Error naming the field ("rules[2].format: unknown format 'q9_k'").
// check_recipe_against_model() adds what needs the model: layer ranges, N:M against row widths,
// structured keep-lists against head/channel/layer counts.
//
// Pruning and recovery are represented and validated here. Unstructured and N:M sparsity are
// carried out by the pruning methods (magnitude, wanda, sparsegpt); structured keep-lists and
// recovery come with later work, and until then a recipe that asks for them is refused where it
// is applied (quantize_options_from_recipe), never silently ignored.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace edgefit {

struct Model;

// The schema this build reads and writes.
inline constexpr int kRecipeSchemaVersion = 1;

// How a tensor's weights are thinned before they are stored.
enum class SparsityKind {
  kNone,          // dense
  kUnstructured,  // the smallest `fraction` of weights set to zero, anywhere
  kNM,            // N nonzero weights in every group of M consecutive weights of a row (2:4)
  kStructured,    // whole heads, FFN channels or layers removed (keep-lists say what stays)
};

struct Sparsity {
  SparsityKind kind = SparsityKind::kNone;  // which pattern
  double fraction = 0;                      // kUnstructured: share of zeros, in (0, 1)
  int n = 0;                                // kNM: nonzero weights per group
  int m = 0;                                // kNM: group length (must divide the row width)
  std::vector<int> keep_heads;              // kStructured: attention heads kept (0-based)
  std::vector<int> keep_ffn;                // kStructured: FFN channels kept (0-based)
  std::vector<int> keep_layers;             // kStructured: transformer blocks kept (0-based)
};

// A compression method and its settings. The method owns the meaning of `params`; unknown keys
// are an error where the method reads them.
struct MethodSpec {
  std::string name = "rtn";                                          // one of recipe_method_names()
  nlohmann::ordered_json params = nlohmann::ordered_json::object();  // method-specific settings
};

// One per-tensor rule. Rules apply after the base preset's own rules, in order; later rules win.
struct TensorRule {
  std::string match;                 // ECMAScript regex searched in the GGUF tensor name
  std::optional<int> layer_first;    // first block the rule covers (none: any, incl. non-block)
  std::optional<int> layer_last;     // last block the rule covers, inclusive
  std::optional<DType> format;       // storage format (none: the base preset's choice)
  std::string packing = "default";   // runtime packing: "default" (load-time repack) or "none"
  Sparsity sparsity;                 // thinning before quantization
  std::optional<MethodSpec> method;  // rounding method (none: the recipe's method)
};

// A model-level training step after compression (the training work implements them).
struct RecoveryStep {
  std::string kind;                                                  // "lora", "qat" or "distill"
  nlohmann::ordered_json params = nlohmann::ordered_json::object();  // step-specific settings
};

// One output the recipe produces.
struct ExportTarget {
  std::string format = "gguf";  // "gguf" or "safetensors"
  std::string path;             // where (empty: chosen by the command)
};

struct Recipe {
  int schema_version = kRecipeSchemaVersion;  // schema the JSON was written in
  std::string name;                           // label for reports and file names ("q4_k_m")
  std::string base = "q4_k_m";                // llama.cpp preset choosing the types first
  bool pure = false;                          // base format everywhere, no llama.cpp rules
  MethodSpec method;                          // model-wide rounding method
  std::vector<TensorRule> rules;              // per-tensor rules, later ones win
  std::vector<RecoveryStep> recovery;         // training steps after compression, in order
  std::vector<ExportTarget> exports;          // outputs (empty: one GGUF)
  std::string device;                         // device the recipe was planned for ("" unknown)
};

// The methods a recipe may name: "rtn, imatrix, gptq, awq, smoothquant, magnitude, wanda,
// sparsegpt".
const std::vector<std::string>& recipe_method_names();

// Parses and checks a recipe; `file` names it in errors. Throws Error naming the field.
Recipe parse_recipe(std::string_view json_text, const std::string& file);
// Reads a recipe file (Error when unreadable or invalid).
Recipe read_recipe(const std::string& path);
// The JSON form (ordered as documented above; defaults omitted where they add nothing).
nlohmann::ordered_json recipe_to_json(const Recipe& recipe);
// Writes `recipe` to `path` atomically.
void write_recipe(const Recipe& recipe, const std::string& path);

// Checks what needs the model: every rule's layer range lies within its blocks, N:M groups
// divide the row width of every tensor the rule matches, keep-lists name existing heads,
// channels and layers (a rule that matches no tensor is allowed: recipes travel between models
// that differ, e.g. in biases). Throws Error naming the field; `file` as in parse_recipe.
void check_recipe_against_model(const Recipe& recipe, const Model& model, const std::string& file);

// The block index of "blk.N.…" tensors, or -1 for tensors outside the blocks.
int tensor_layer(std::string_view name);

}  // namespace edgefit
