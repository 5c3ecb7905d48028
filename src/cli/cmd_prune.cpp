// `edgefit prune MODEL OUT.gguf --method magnitude|wanda|sparsegpt --sparsity 0.5|2:4|4:8 [--owl]
//  [--type f16|f32|q4_k_m…] [--calib FILE…] [--ctx N]`: prunes the linear weights of every block to
// the pattern, streamed block by block on the calibration pipeline (each block calibrated on what
// the already-pruned blocks before it output), resumable through "<OUT>.work/" like GPTQ, then
// stores the model in --type (default f16) with the pruned weights as zeros, or, with a sparse
// --type (q4_2of4, q4_mask50/62, q4_qmask62), the block linear weights in that type (pruned
// weights not stored) and the other tensors as the q4_0 preset. SparseGPT into a
// type GPTQ can target prunes and quantizes in one pass; magnitude and Wanda prune, then round
// with the calibration statistics as importance. Magnitude needs no calibration text (unless
// --owl); Wanda and SparseGPT do.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/prune_structured.h"
#include "compress/calibrated_quantize.h"
#include "compress/method_registry.h"
#include "core/error.h"
#include "core/output_path.h"
#include "core/progress.h"
#include "methods/quantize_model.h"
#include "prune/sparse_formats.h"
#include "quant/presets.h"

namespace edgefit::cli {
namespace {

namespace fs = std::filesystem;

// The sparse storage types --type takes besides the presets (prune/sparse_formats.h).
constexpr const char* kSparseTypeNames =
    "q4_2of4 (2:4), q4_mask50 (>= 0.5), q4_mask62 and "
    "q4_qmask62 (>= 0.625)";

struct PruneCliOptions {
  std::string input;              // model to prune
  std::string output;             // GGUF to write
  std::string method;             // --method: a pruning method of the registry
  std::string sparsity;           // --sparsity: "0.5", "2:4", "4:8"
  std::string type = "f16";       // --type: storage preset of the output
  CalibratedOptions calib;        // calibration text, OWL, run control
  double damp = 0;                // --damp: SparseGPT's Hessian dampening (0: the method's default)
  StructuredPruneCli structured;  // --structured and its flags (cli/prune_structured.h)
};

void run_prune(PruneCliOptions c) {
  if (!fs::exists(c.input)) throw Error("no such file or folder", c.input);
  if (c.structured.requested()) {  // heads, FFN channels, layers: a smaller dense model
    if (!c.method.empty() || !c.sparsity.empty())
      throw UsageError("--structured cannot be combined with --method/--sparsity yet");
    if (sparse_storage_type(c.type))
      throw UsageError("--structured writes a smaller dense model; --type " + c.type +
                       " stores unstructured or 2:4 pruning (--method/--sparsity)");
    c.structured.calib = c.calib.calib_files;
    run_structured_prune(c.structured, c.input, c.output);
    return;
  }
  if (c.method.empty())
    throw UsageError("--method is required (" + pruning_method_names() + "), or --structured");
  const CalibMethod* m = find_calib_method(c.method);
  if (!m || !m->prunes)
    throw UsageError("unknown pruning --method '" + c.method + "' (" + pruning_method_names() +
                     ")");
  if (c.sparsity.empty()) throw UsageError("--sparsity is required (0.5, 2:4, 4:8)");
  if (c.damp > 0 &&
      !m->read_param("damp", nlohmann::ordered_json(c.damp), "--damp", c.input, c.calib))
    throw UsageError("--damp is not a setting of --method " + c.method);
  QuantizeOptions o;
  const std::optional<DType> sparse = sparse_storage_type(c.type);
  const QuantPreset* preset =
      find_quant_preset(sparse ? std::string(kSparseStorageBasePreset) : c.type);
  if (!preset)
    throw UsageError("unknown --type '" + c.type + "' (known: " + quant_preset_names() +
                     ", and for the pruned block weights " + kSparseTypeNames + ")");
  if (sparse) {  // block linear weights sparse, the rest as the q4_0 preset stores it
    std::string why;
    try {
      why = sparse_storage_misfit(*sparse, SparsityPattern::parse(c.sparsity),
                                  c.calib.owl.enabled ? c.calib.owl.lambda : -1);
    } catch (const Error& e) {
      throw UsageError(e.what());
    }
    if (!why.empty()) throw UsageError(why);
    o.rules.push_back(sparse_block_override(*sparse));
  }
  std::vector<std::string> inputs = {c.input, c.calib.tokenizer};
  inputs.insert(inputs.end(), c.calib.calib_files.begin(), c.calib.calib_files.end());
  check_output_not_input(c.output, inputs);

  o.preset = std::string(preset->name);
  o.method = c.method;
  SparsityRule rule;
  rule.pattern = c.sparsity;
  rule.source = "--sparsity";
  o.sparsity.push_back(rule);
  c.calib.method = c.method;
  const QuantizeResult r = quantize_model_calibrated(c.input, c.output, o, c.calib);
  std::printf("wrote %s: %s %s%s, %zu tensors, %.2f MiB, %.3f bits per weight, %s in %s\n",
              c.output.c_str(), c.method.c_str(), c.sparsity.c_str(),
              c.calib.owl.enabled ? " (OWL)" : "", r.tensors.size(),
              static_cast<double>(r.file_bytes) / 1048576.0, r.bits_per_weight(),
              sparse ? (c.type + " + " + o.preset).c_str() : o.preset.c_str(),
              format_duration(r.seconds).c_str());
}

}  // namespace

void add_prune_command(CLI::App& app) {
  auto opts = std::make_shared<PruneCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "prune", "prune a model's linear weights (magnitude, Wanda, SparseGPT) into a GGUF");
  cmd->add_option("input", opts->input, "GGUF file or Hugging Face folder (or .safetensors)")
      ->required();
  cmd->add_option("output", opts->output, "GGUF file to write")->required();
  cmd->add_option("--method", opts->method, "pruning method: " + pruning_method_names());
  cmd->add_option("--sparsity", opts->sparsity,
                  "pruned share of every block's linear weights: a fraction (0.5) or N:M (2:4, "
                  "4:8: N kept of every M inputs)");
  cmd->add_flag("--owl", opts->calib.owl.enabled,
                "OWL: per-layer sparsities from the dense model's outlier ratios, averaging the "
                "--sparsity fraction (unstructured only; needs --calib)");
  cmd->add_option("--owl-lambda", opts->calib.owl.lambda,
                  "OWL: largest deviation of a layer from the target (default 0.08)");
  cmd->add_option("--owl-m", opts->calib.owl.m,
                  "OWL: outlier threshold, a multiple of the layer's mean score (default 5)");
  cmd->add_option("--type", opts->type,
                  "storage of the output (default f16): " + quant_preset_names() +
                      "; sparsegpt into a quantized type prunes and quantizes in one pass. "
                      "Or a sparse type that stores only the kept weights: " +
                      kSparseTypeNames +
                      ": every pruned block linear weight in it (sparsegpt: pruned and "
                      "quantized in one pass), token_embd/output/norms as the q4_0 preset");
  cmd->add_option("--calib", opts->calib.calib_files,
                  "calibration text files (wanda, sparsegpt, --owl; e.g. one per language)");
  cmd->add_option("--calib-weights", opts->calib.calib_weights, "relative token share per file")
      ->delimiter(',');
  cmd->add_option("--samples", opts->calib.samples, "calibration sequences (default 128)");
  cmd->add_option("--ctx", opts->calib.seqlen,
                  "tokens per calibration sequence (default 512, at most the trained context)");
  cmd->add_option("--damp", opts->damp,
                  "sparsegpt: Hessian dampening, a fraction of its mean diagonal (default 0.01)");
  cmd->add_option("--tokenizer", opts->calib.tokenizer,
                  "tokenizer file or folder (default: the model's)");
  cmd->add_flag(
      "--no-progress", [opts](int64_t) { opts->calib.progress = false; },
      "no per-block progress lines on stderr");
  add_structured_prune_options(*cmd, opts->structured, /*with_calib=*/false);
  cmd->callback([opts] { run_prune(*opts); });
}

}  // namespace edgefit::cli
