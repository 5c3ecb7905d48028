// The calibration methods: each one is a CalibMethod entry (name and hooks) defined next to its
// block adapter (gptq_block.cpp, awq_block.cpp, smoothquant_block.cpp) and listed once in
// method_registry.cpp. The layer-streaming driver (calibrated_quantize.cpp) and the CLI use the
// hooks and the list; neither names a method nor one of its settings. A new method: its math
// (methods/), its settings struct (method_params.h), its block adapter with its CalibMethod
// entry (and the flags it declares), one line in the registry's list.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "compress/block_method.h"
#include "compress/calibrated_quantize.h"
#include "compress/work_dir.h"
#include "formats/gguf.h"
#include "methods/quantize_model.h"
#include "recipe/recipe.h"

namespace edgefit {

// A command-line flag a method declares for one of its parameters (`--act-order` sets GPTQ's
// act_order): the CLI registers every method's flags and hands each given value to the method's
// read_param hook as the recipe parameter `param`, so the CLI names no method's settings.
struct MethodFlag {
  enum class Kind {
    kSwitch,   // present or not: true when given
    kInteger,  // a positive integer
    kNumber,   // a number
  };
  std::string_view name;   // "--act-order"
  std::string_view param;  // the recipe parameter it sets: "act_order"
  Kind kind;               // what follows the flag
  std::string_view help;   // --help text
};

// One calibration method as the driver and the CLI see it. Entries are written with designated
// initializers (`{.name = "gptq", .make = make_gptq, …}`): every hook has a default, so a new
// hook is one field here and one line in the methods that use it.
struct CalibMethod {
  std::string_view name;     // "gptq": --method value and recipe method name
  std::string_view summary;  // a few words for --help ("GPTQ", "SmoothQuant (W8A8)")
  // The block adapter for the settings in `co`.
  std::unique_ptr<BlockMethod> (*make)(const CalibratedOptions& co) = nullptr;
  // edgefit.<method>.* keys recording the settings.
  std::vector<GgufKV> (*metadata)(const CalibratedOptions& co) = nullptr;
  // Reads one recipe parameter `key` = `v` into `co`; false when the method has no such key.
  // Throws Error naming `field` in `file` for a value of the wrong kind.
  bool (*read_param)(std::string_view key, const nlohmann::ordered_json& v,
                     const std::string& field, const std::string& file,
                     CalibratedOptions& co) = nullptr;
  // The preset whose types the output starts from ("": the caller's preset).
  std::string_view output_preset = "";
  // Changes the plan where the method's output is not the preset's (nullptr: none).
  void (*adapt_plan)(QuantizePlan& plan) = nullptr;
  // Writes the method's safetensors export (nullptr: the method has none).
  void (*write_safetensors)(const Model& model, const QuantizePlan& plan, const WorkDir& wd,
                            const std::string& path) = nullptr;
  // A pruning method: it needs a sparsity (QuantizeOptions::sparsity) and `edgefit prune` offers
  // it; the other methods refuse one.
  bool prunes = false;
  // Whether the settings need calibration text (nullptr: always). Without it the driver hands
  // the method every block in turn with empty statistics and runs no forward pass.
  bool (*needs_calibration)(const CalibratedOptions& co) = nullptr;
  // Its settings in `co` as one line ("damp=0.010000 act=0 blk=128"), part of the work
  // directory's key so that a changed setting starts the run afresh (nullptr: no settings).
  std::string (*describe)(const CalibratedOptions& co) = nullptr;
  // The command-line flags it declares (empty: none; recipes still reach every parameter).
  std::span<const MethodFlag> flags = {};
};

// Every calibration method, in the order --help lists them.
const std::vector<const CalibMethod*>& calib_methods();
// The method called `name`, or nullptr.
const CalibMethod* find_calib_method(std::string_view name);
// "gptq, awq, smoothquant, …" for help and error messages.
std::string calib_method_names();
// The pruning methods' names, "magnitude, wanda, sparsegpt".
std::string pruning_method_names();

// Reads one numeric or boolean parameter of a recipe into `out` (positive for integers),
// naming `field` in `file` on a wrong kind. For the methods' read_param hooks.
template <typename T>
void read_method_param(const nlohmann::ordered_json& v, const std::string& field,
                       const std::string& file, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) throw Error(field + ": must be true or false", file);
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer() || v.get<int64_t>() <= 0)
      throw Error(field + ": must be a positive integer", file);
  } else {
    if (!v.is_number()) throw Error(field + ": must be a number", file);
  }
  out = v.get<T>();
}

// The method of co.method; UsageError naming the known ones otherwise.
const CalibMethod& calib_method(const CalibratedOptions& co);
// make_block_method(co) = calib_method(co).make(co).
std::unique_ptr<BlockMethod> make_block_method(const CalibratedOptions& co);
// A recipe's method settings into `co` (method name and its params; "samples" and "seqlen" for
// every calibrated method). Throws Error naming the field ("method.params.damp") in `file` for a
// parameter the method does not have or a value of the wrong kind.
void apply_method_params(const MethodSpec& method, CalibratedOptions& co, const std::string& file);
// The method's safetensors export; a UsageError for a method without one.
void write_safetensors_export(const CalibratedOptions& co, const Model& model,
                              const QuantizePlan& plan, const WorkDir& wd, const std::string& path);

}  // namespace edgefit
