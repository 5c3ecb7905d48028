// `edgefit quantize IN OUT.gguf --type q4_k_m [--imatrix F] [--tensor-type PATTERN=TYPE …]
//  [--token-embedding-type T] [--output-tensor-type T] [--pure] [--no-provenance] [--dry-run]`:
// quantizes a GGUF or Hugging Face model into a GGUF llama.cpp loads, with llama.cpp's per-tensor
// type rules (quant/presets.h). Prints one line per tensor as it is written (or a progress bar
// with --quiet), then the file size and bits per weight.
#include <cstdio>
#include <filesystem>
#include <list>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "compress/calibrated_quantize.h"
#include "compress/method_registry.h"
#include "core/error.h"
#include "core/output_path.h"
#include "core/progress.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "methods/imatrix_file.h"
#include "methods/quantize_model.h"
#include "methods/quantize_recipe.h"
#include "prune/sparse_formats.h"
#include "quant/presets.h"
#include "recipe/recipe.h"

namespace edgefit::cli {
namespace {

namespace fs = std::filesystem;

struct QuantizeCliOptions {
  std::string method;                     // rtn | gptq | awq | smoothquant ("" = rtn or the
                                          // recipe's)
  std::string recipe;                     // --recipe file (instead of --type)
  CalibratedOptions calib;                // calibration settings for gptq/awq/smoothquant
  std::string input;                      // model to quantize
  std::string output;                     // GGUF to write
  std::string type_positional;            // optional third positional: llama-quantize's TYPE
  int threads_positional = 0;             // optional fourth positional: llama-quantize's nthreads
  bool allow_requantize = false;          // --allow-requantize: quantized input may be requantized
  std::string type;                       // --type preset name
  std::string imatrix;                    // --imatrix file (.dat or GGUF)
  std::vector<std::string> tensor_types;  // --tensor-type PATTERN=TYPE, in order
  std::string token_embedding_type;       // --token-embedding-type
  std::string output_tensor_type;         // --output-tensor-type
  bool pure = false;                      // --pure
  bool no_provenance = false;             // --no-provenance
  bool dry_run = false;                   // --dry-run: list the plan, write nothing
  bool quiet = false;                     // --quiet: progress bar instead of per-tensor lines
  bool json = false;                      // --json: one JSON object on stdout
};

std::string shape_string(const std::vector<uint64_t>& ne) {
  std::string s = "[";
  for (size_t i = ne.size(); i-- > 0;) {
    s += std::to_string(ne[i]);
    if (i) s += ", ";
  }
  return s + "]";
}

void print_tensor_line(size_t index, size_t count, const QuantizedTensor& t) {
  std::string extra = t.used_imatrix ? "imatrix" : "";
  if (!t.note.empty()) extra += (extra.empty() ? "" : ", ") + t.note;
  std::printf("[%4zu/%4zu] %-32s %-13s %6s -> %-6s %10llu B%s%s\n", index, count, t.name.c_str(),
              shape_string(t.ne).c_str(), std::string(dtype_name(t.from)).c_str(),
              std::string(dtype_name(t.to)).c_str(), static_cast<unsigned long long>(t.bytes),
              extra.empty() ? "" : "  ", extra.c_str());
  std::fflush(stdout);
}

nlohmann::ordered_json tensor_json(const QuantizedTensor& t) {
  return {{"name", t.name},
          {"ne", t.ne},
          {"from", std::string(dtype_name(t.from))},
          {"to", std::string(dtype_name(t.to))},
          {"bytes", t.bytes},
          {"imatrix", t.used_imatrix},
          {"note", t.note}};
}

// llama-quantize refuses to quantize already-quantized weights again unless asked: each rounding
// adds error, so the result is worse than quantizing the original. Same flag, same message.
void check_no_requantize(const QuantizePlan& plan) {
  for (const QuantizedTensor& t : plan.tensors) {
    const DTypeInfo* from = dtype_info(t.from);
    if (from && from->quantized && t.to != t.from)
      throw Error("requantizing from type " + ascii_lower(dtype_name(t.from)) +
                  " is disabled (tensor '" + t.name +
                  "'); pass --allow-requantize to quantize already-quantized weights again "
                  "(quality suffers: quantize the original F32/F16/BF16 model if you can)");
  }
}

// QuantizeOptions from --type and --pure; `type` becomes the preset's canonical name.
QuantizeOptions options_from_flags(const QuantizeCliOptions& c, std::string& type) {
  if (!c.type_positional.empty()) {
    if (!type.empty() && type != c.type_positional)
      throw UsageError("type given twice: '" + c.type_positional + "' and --type '" + type + "'");
    type = c.type_positional;
  }
  if (type.empty())
    throw UsageError("--type or --recipe is required (types: " + quant_preset_names() + ")");
  QuantizeOptions o;
  // A sparse type (a pruned model's block weights, prune/sparse_formats.h) on the q4_0 preset.
  if (const std::optional<DType> sparse = sparse_storage_type(type)) {
    o.rules.push_back(sparse_block_override(*sparse));
    type = std::string(kSparseStorageBasePreset);
  }
  const QuantPreset* preset = find_quant_preset(type);
  if (!preset)
    throw UsageError("unknown quantization type '" + type + "' (known: " + quant_preset_names() +
                     ", or a llama_ftype number; q4_2of4, q4_mask50, q4_mask62, q4_qmask62 for "
                     "a pruned model)");
  type = std::string(preset->name);  // "Q4_K", "15" → "q4_k_m"
  o.preset = type;
  o.pure = c.pure;
  return o;
}

// QuantizeOptions (and the method) from --recipe, checked against the input model.
QuantizeOptions options_from_recipe(QuantizeCliOptions& c, std::string& type) {
  if (!c.type.empty() || !c.type_positional.empty() || c.pure)
    throw UsageError("--recipe already says the types; drop --type/--pure (or --recipe)");
  const Recipe recipe = read_recipe(c.recipe);
  check_recipe_against_model(recipe, load_model(c.input), c.recipe);
  QuantizeOptions o = quantize_options_from_recipe(recipe, c.recipe);
  type = recipe.base;
  if (!c.method.empty() && c.method != recipe.method.name)
    throw UsageError("--method " + c.method + " contradicts the recipe's method '" +
                     recipe.method.name + "'");
  c.method = recipe.method.name;
  if (c.method == "rtn" || c.method == "imatrix") {
    if (!recipe.method.params.empty())
      throw Error("method.params." + recipe.method.params.begin().key() +
                      ": unknown parameter for " + c.method,
                  c.recipe);
    if (c.method == "imatrix" && c.imatrix.empty())
      throw UsageError("the recipe's method is imatrix: give the matrix with --imatrix FILE");
    o.method = c.method;  // edgefit.method records "imatrix" as compress does
    c.method = "rtn";     // both round to nearest, one with importance weights
  } else {
    apply_method_params(recipe.method, c.calib, c.recipe);
  }
  return o;
}

void run_quantize(QuantizeCliOptions& c) {
  std::string type = c.type;
  if (c.threads_positional < 0) throw UsageError("the thread count must be positive");
  if (c.threads_positional > 0) ThreadPool::set_global_threads(c.threads_positional);
  if (!fs::exists(c.input)) throw Error("no such file or folder", c.input);
  QuantizeOptions o = c.recipe.empty() ? options_from_flags(c, type) : options_from_recipe(c, type);
  if (c.method.empty()) c.method = "rtn";
  if (c.output.empty() && !c.dry_run) throw UsageError("the output GGUF path is missing");
  std::vector<std::string> inputs = {c.input, c.imatrix, c.calib.tokenizer, c.recipe};
  inputs.insert(inputs.end(), c.calib.calib_files.begin(), c.calib.calib_files.end());
  if (!c.dry_run) check_output_not_input(c.output, inputs);

  o.tensor_types = c.tensor_types;
  if (!c.token_embedding_type.empty())
    o.token_embedding_type = parse_quant_type(c.token_embedding_type);
  if (!c.output_tensor_type.empty()) o.output_tensor_type = parse_quant_type(c.output_tensor_type);
  o.provenance = !c.no_provenance;
  std::unique_ptr<Imatrix> imatrix;
  if (!c.imatrix.empty()) {
    imatrix = std::make_unique<Imatrix>(read_imatrix(c.imatrix));
    o.imatrix = imatrix.get();
    o.imatrix_path = c.imatrix;
  }

  if (c.dry_run) {
    const QuantizePlan plan = plan_quantization(c.input, o);
    uint64_t bytes = 0, params = 0;
    nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      const auto& t = plan.tensors[i];
      bytes += t.bytes;
      params += t.numel();
      if (c.json)
        tensors.push_back(tensor_json(t));
      else
        print_tensor_line(i + 1, plan.tensors.size(), t);
    }
    const double bpw = params ? 8.0 * static_cast<double>(bytes) / static_cast<double>(params) : 0;
    if (c.json) {
      nlohmann::ordered_json j = {{"input", c.input},      {"type", type},
                                  {"ftype", plan.ftype},   {"tensors", tensors},
                                  {"tensor_bytes", bytes}, {"n_params", params},
                                  {"bits_per_weight", bpw}};
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf(
          "plan: %zu tensors, tensor data %.2f MiB, %.3f bits per weight (nothing written)\n",
          plan.tensors.size(), static_cast<double>(bytes) / 1048576.0, bpw);
    }
    return;
  }

  o.show_progress = c.quiet && !c.json;
  size_t index = 0;
  const QuantizePlan plan = plan_quantization(c.input, o);
  const size_t count = plan.tensors.size();
  if (!c.allow_requantize) check_no_requantize(plan);
  if (c.method != "rtn" && !find_calib_method(c.method))
    throw UsageError("unknown --method '" + c.method + "' (rtn, " + calib_method_names() + ")");
  // Whether calibration text is needed is the method's to say (the driver checks it).
  QuantizeResult r;
  if (c.method == "rtn") {
    r = quantize_model(c.input, c.output, o, [&](const QuantizedTensor& t) {
      ++index;
      if (!c.quiet && !c.json) print_tensor_line(index, count, t);
    });
  } else {
    // Calibrated methods stream block by block (progress per block) and resume after a kill.
    CalibratedOptions co = c.calib;
    co.method = c.method;
    o.method = c.method;
    r = quantize_model_calibrated(c.input, c.output, o, co);
    if (!c.json)
      for (const auto& t : r.tensors) print_tensor_line(++index, r.tensors.size(), t);
  }
  const double mb_per_s = r.seconds > 0 ? static_cast<double>(r.input_bytes) / 1e6 / r.seconds : 0;
  if (c.json) {
    nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
    for (const auto& t : r.tensors) tensors.push_back(tensor_json(t));
    nlohmann::ordered_json j = {{"input", c.input},
                                {"output", c.output},
                                {"type", type},
                                {"ftype", r.ftype},
                                {"tensors", tensors},
                                {"n_params", r.n_params},
                                {"tensor_bytes", r.tensor_bytes},
                                {"file_bytes", r.file_bytes},
                                {"bits_per_weight", r.bits_per_weight()},
                                {"seconds", r.seconds},
                                {"input_mb_per_s", mb_per_s}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf(
      "wrote %s: %zu tensors, %.2f MiB (tensor data %.2f MiB), %.3f bits per weight, %s in %s "
      "(%.1f MB/s)\n",
      c.output.c_str(), r.tensors.size(), static_cast<double>(r.file_bytes) / 1048576.0,
      static_cast<double>(r.tensor_bytes) / 1048576.0, r.bits_per_weight(), type.c_str(),
      format_duration(r.seconds).c_str(), mb_per_s);
}

// One flag a calibration method declared, as registered here, with the value given.
struct MethodFlagValue {
  const CalibMethod* method = nullptr;  // the method that declared it
  const MethodFlag* flag = nullptr;     // its declaration
  CLI::Option* option = nullptr;        // CLI11's record (count() > 0: given)
  bool on = false;                      // a switch's value
  int64_t integer = 0;                  // an integer flag's value
  double number = 0;                    // a number flag's value
};

// Registers every calibration method's flags (method_registry.h); the list keeps the values'
// addresses stable for CLI11.
std::shared_ptr<std::list<MethodFlagValue>> add_method_flags(CLI::App& cmd) {
  auto values = std::make_shared<std::list<MethodFlagValue>>();
  for (const CalibMethod* m : calib_methods())
    for (const MethodFlag& f : m->flags) {
      MethodFlagValue& v = values->emplace_back();
      v.method = m;
      v.flag = &f;
      const std::string name(f.name), help(f.help);
      switch (f.kind) {
        case MethodFlag::Kind::kSwitch:
          v.option = cmd.add_flag(name, v.on, help);
          break;
        case MethodFlag::Kind::kInteger:
          v.option = cmd.add_option(name, v.integer, help);
          break;
        case MethodFlag::Kind::kNumber:
          v.option = cmd.add_option(name, v.number, help);
          break;
      }
    }
  return values;
}

// Hands each given flag to its method, as the recipe parameter it stands for. A flag of another
// method than the one chosen sets that method's settings, which this run does not use.
void apply_method_flags(const std::list<MethodFlagValue>& values, CalibratedOptions& co) {
  for (const MethodFlagValue& v : values) {
    if (v.option->count() == 0) continue;
    nlohmann::ordered_json value;
    switch (v.flag->kind) {
      case MethodFlag::Kind::kSwitch:
        value = v.on;
        break;
      case MethodFlag::Kind::kInteger:
        value = v.integer;
        break;
      case MethodFlag::Kind::kNumber:
        value = v.number;
        break;
    }
    v.method->read_param(v.flag->param, value, std::string(v.flag->name), "", co);
  }
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto opts = std::make_shared<QuantizeCliOptions>();
  CLI::App* cmd = app.add_subcommand("quantize", "quantize a model to a GGUF file llama.cpp loads");
  cmd->add_option("input", opts->input, "GGUF file or Hugging Face folder (or .safetensors)")
      ->required();
  cmd->add_option("output", opts->output, "GGUF file to write (not needed with --dry-run)");
  cmd->add_option("type_arg", opts->type_positional,
                  "quantization type, as llama-quantize takes it (same as --type)");
  cmd->add_option("nthreads", opts->threads_positional,
                  "threads, as llama-quantize takes them (same as -t)");
  cmd->add_option(
      "--type", opts->type,
      "preset: " + quant_preset_names() +
          " (any case; q4_k = q4_k_m; llama_ftype ids); or, for a pruned model (exact zeros), "
          "q4_2of4, q4_mask50, q4_mask62, q4_qmask62: block linear weights sparse, the rest q4_0");
  cmd->add_flag("--allow-requantize", opts->allow_requantize,
                "allow quantizing already-quantized weights again (as llama-quantize)");
  cmd->add_option("--imatrix", opts->imatrix, "importance matrix: llama.cpp .dat or GGUF");
  cmd->add_option("--tensor-type", opts->tensor_types,
                  "PATTERN=TYPE: tensors whose name matches PATTERN (regex; a plain name is a "
                  "substring) get TYPE; "
                  "repeatable, later ones win")
      ->allow_extra_args(false);
  cmd->add_option("--token-embedding-type", opts->token_embedding_type,
                  "type of token_embd.weight");
  cmd->add_option("--output-tensor-type", opts->output_tensor_type, "type of output.weight");
  cmd->add_flag("--pure", opts->pure,
                "no per-tensor rules: every weight matrix gets the preset's base type");
  cmd->add_flag("--no-provenance", opts->no_provenance,
                "write no edgefit.* keys (the output then equals llama-quantize's byte for byte)");
  cmd->add_flag("--dry-run", opts->dry_run,
                "list the per-tensor types and the size; write nothing");
  cmd->add_flag("-q,--quiet", opts->quiet, "a progress bar instead of one line per tensor");
  cmd->add_flag("--json", opts->json, "print one JSON object (tensors, sizes, bits per weight)");
  cmd->add_option("--method", opts->method,
                  "rtn (default) or a calibration method: " + calib_method_names());
  cmd->add_option("--calib", opts->calib.calib_files,
                  "calibration text files (gptq/awq/smoothquant)");
  cmd->add_option("--calib-weights", opts->calib.calib_weights, "relative token share per file")
      ->delimiter(',');
  cmd->add_option("--samples", opts->calib.samples, "calibration sequences (default 128)");
  cmd->add_option("--seqlen", opts->calib.seqlen, "tokens per calibration sequence (default 512)");
  auto method_flags = add_method_flags(*cmd);  // --act-order, --sq-alpha, …: the methods'
  cmd->add_option("--recipe", opts->recipe,
                  "recipe JSON (edgefit plan writes one) instead of --type/--pure");
  cmd->callback([opts, method_flags] {
    QuantizeCliOptions c = *opts;  // the recipe fills in method settings (after the flags)
    apply_method_flags(*method_flags, c.calib);
    run_quantize(c);
  });
}

}  // namespace edgefit::cli
