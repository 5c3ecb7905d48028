// `edgefit quantize --method gptq|awq|smoothquant`: calibration-based quantization of a whole
// model, streamed block by block (layer_pipeline.h), into
//  * gptq / awq: a GGUF with the same tensor types, order and metadata as `quantize_model()` with
//    the same QuantizeOptions (plan_quantization()), so llama.cpp loads it; only the weight bytes
//    differ (and, for AWQ, the RMSNorm gains that absorbed the scales);
//  * smoothquant: a W8A8 GGUF (I8 weights + F32 per-output-channel "<weight>_scale" tensors,
//    edgefit.w8a8 = true) that only edgefit's runtime runs, and optionally a safetensors copy in
//    compressed-tensors-like naming.
// Resumable: state lives in "<output>.work/" (work_dir.h) until the output is complete.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compress/layer_pipeline.h"
#include "compress/method_params.h"
#include "methods/quantize_model.h"

namespace edgefit {

// OWL (prune/owl.h): per-layer sparsities from the dense model's outlier ratios, whose
// parameter-weighted mean is the unstructured target. The paper's defaults.
struct OwlSettings {
  bool enabled = false;  // --owl: non-uniform per-layer sparsity (unstructured patterns only)
  double lambda = 0.08;  // largest deviation of a layer from the target (the paper's λ)
  double m = 5.0;        // a Wanda score is an outlier above M × its layer's mean (the paper's M)
};

struct CalibratedOptions {
  std::string method = "gptq";  // a registry name: "gptq", "awq", "smoothquant", "wanda"…
  std::vector<std::string> calib_files;  // calibration texts (one per language, typically)
  std::vector<double> calib_weights;     // relative token share per file (empty: equal)
  int samples = 128;                     // calibration sequences N
  int seqlen = 512;                      // tokens per sequence L (capped at the model's context)
  std::string tokenizer;                 // tokenizer override (empty: the model's own)
  MethodSettings params;  // each method's own settings (its folder's struct, e.g. GptqParams;
                          // a method not set here runs with its defaults)
  std::string safetensors_output;  // also write the method's safetensors export here (empty: no)
  // Pruning (magnitude, wanda, sparsegpt): the pattern of each weight comes from
  // QuantizeOptions::sparsity (it describes the output, like the types); OWL is the one setting
  // every pruning method shares. Each method's other settings stay in its own settings struct.
  OwlSettings owl;  // OWL's per-layer sparsities under the global target (off by default)
  // Run control
  std::string work_dir;        // resumable state (empty: "<output>.work")
  bool keep_work_dir = false;  // keep the state after success (tests, debugging)
  bool progress = true;        // progress lines and the closing summary on stderr
  int stop_after_block = -1;   // testing: fail with an Error once this block is done,
                               // as a killed run would stop (-1: never)
};

// What happened, beyond the QuantizeResult.
struct CalibratedReport {
  PipelineResult pipeline;                 // timings, peak RSS, resumed blocks
  std::vector<std::string> calib_summary;  // "file:tokens" per calibration file
};

// Quantizes `input` into `output` with the calibration method of `co`, types and metadata from
// `qo` (preset, overrides; qo.imatrix is ignored: the method measures its own statistics).
// Throws UsageError for an unknown method, Error for unreadable inputs or failures.
QuantizeResult quantize_model_calibrated(const std::string& input, const std::string& output,
                                         const QuantizeOptions& qo, const CalibratedOptions& co,
                                         CalibratedReport* report = nullptr);
// The same for a model the caller has already loaded from `input` (load_model(input)); its
// mapped pages are released block by block as the pipeline passes them (they read back from the
// file when touched again).
QuantizeResult quantize_model_calibrated(const Model& model, const std::string& input,
                                         const std::string& output, const QuantizeOptions& qo,
                                         const CalibratedOptions& co,
                                         CalibratedReport* report = nullptr);

}  // namespace edgefit
