// Quantizing a whole model to a GGUF file that llama.cpp loads.
//
// Input: a GGUF (any float or quantized types), a Hugging Face folder (or one .safetensors with
// its config.json), as load_model() reads them. Output: a GGUF with every tensor in the type
// the preset and the user's overrides choose (quant/presets.h).
//
// Streaming: the output is written through GgufWriter's per-tensor callbacks, and each callback
// converts one tensor (dequantize or widen to f32, permute q/k rows when needed, quantize) and
// frees it again, so peak memory is about one tensor in f32 plus its output, never the model.
// The file appears whole or not at all (temp file + rename); the input is only read.
//
// Metadata, chosen so llama.cpp loads the result and so that the no-imatrix output of a GGUF
// input is byte-identical to `llama-quantize IN OUT TYPE` (b4748) when provenance is off:
//  * GGUF input: its keys in their order; then, as llama-quantize does,
//  general.quantization_version
//    (2) and general.file_type (the preset's llama_ftype) moved to the end, the split.* keys
//    removed, and with an imatrix quantize.imatrix.{file,dataset,entries_count,chunks_count}.
//    Stale quantize.imatrix.* and edgefit.* keys of a previously quantized input are dropped
//    (llama-quantize would carry them over; they would describe the wrong file).
//  * HF input: general.architecture, general.type, general.name, the hyperparameters
//    (arch_config_to_gguf), the tokenizer (tokenizer_to_gguf_kv), then the two keys above. The
//    llama-family attn_q/attn_k rows are permuted from HF's rotate-half layout to llama.cpp's
//    interleaved one, as convert_hf_to_gguf.py does; 1-D tensors are written as F32.
//  * Provenance (on by default, off with `provenance = false` / `--no-provenance`):
//    edgefit.version, edgefit.method, and with an imatrix edgefit.imatrix.datasets,
//    edgefit.calibration.files, edgefit.calibration.chunks and edgefit.calibration.tokens.
//    Off is the llama.cpp-identical mode.
// Tensors are written in llama-quantize's order (llama_tensor_order_less).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "formats/gguf.h"
#include "quant/presets.h"

namespace edgefit {

struct Imatrix;
struct Model;
class ThreadPool;

// A pruning rule (a recipe's `sparsity`, or `edgefit prune --sparsity`): the linear weights of the
// blocks whose name matches take `pattern` before they are quantized. Carried out by the pruning
// methods of compress/ (method_registry.h); the plain quantizer refuses rules it cannot apply.
struct SparsityRule {
  std::string match;     // ECMAScript regex searched in the tensor name ("" = every one)
  int layer_first = -1;  // first block the rule covers (-1: any)
  int layer_last = -1;   // last block the rule covers, inclusive (-1: any)
  std::string pattern;   // "0.5" (unstructured fraction) or "2:4" (N:M), as SparsityPattern parses
  std::string source;    // where it came from, for errors ("r.json: rules[2].sparsity")
};

struct QuantizeOptions {
  std::string preset = "q4_k_m";              // preset name (quant/presets.h)
  bool pure = false;                          // base type for every weight matrix
  std::vector<TensorTypeOverride> rules;      // parsed overrides (a recipe's rules), applied
                                              // before tensor_types; later ones win
  std::vector<std::string> tensor_types;      // "PATTERN=TYPE" overrides, later ones win
  std::vector<SparsityRule> sparsity;         // pruning before quantization, later rules win
                                              // (only the calibrated pruning methods apply them)
  std::optional<DType> token_embedding_type;  // forced type of token_embd.weight
  std::optional<DType> output_tensor_type;    // forced type of output.weight
  const Imatrix* imatrix = nullptr;           // importance per input channel (may be null)
  std::string imatrix_path;                   // where it came from (metadata; basename kept)
  bool provenance = true;                     // write edgefit.* keys (off: llama.cpp-identical)
  std::string method = "rtn";                 // edgefit.method: how weights were rounded
  std::vector<GgufKV> extra_metadata;         // more keys for the output (e.g. a method's settings)
  bool show_progress = false;                 // progress bar / lines on stderr
  bool check_finite = true;    // scan float weights for NaN/Inf while planning (plans made only
                               // to cost a recipe skip it: they would read every weight)
  ThreadPool* pool = nullptr;  // worker threads (null: the global pool)
};

// What happened to one tensor.
struct QuantizedTensor {
  std::string name;           // GGUF name
  std::vector<uint64_t> ne;   // extents, innermost first
  DType from = DType::F32;    // type in the input
  DType to = DType::F32;      // type in the output
  uint64_t bytes = 0;         // bytes in the output
  bool used_imatrix = false;  // quantized with importance weights
  std::string note;           // why this type ("attn_v rule", "fallback …", "--tensor-type …")
  // Elements (the product of ne).
  uint64_t numel() const {
    uint64_t n = 1;
    for (uint64_t e : ne) n *= e;
    return n;
  }
};

struct QuantizeResult {
  std::vector<QuantizedTensor> tensors;  // in output order
  uint64_t n_params = 0;                 // elements over all tensors
  uint64_t tensor_bytes = 0;             // tensor data in the output
  uint64_t file_bytes = 0;               // size of the written file
  uint64_t input_bytes = 0;              // tensor data read from the input
  double seconds = 0;                    // wall time of the job (RTN: the write; calibrated:
                                         // calibration, method and write)
  uint32_t ftype = 0;                    // general.file_type written
  double bits_per_weight() const {
    return n_params ? 8.0 * static_cast<double>(tensor_bytes) / static_cast<double>(n_params) : 0;
  }
};

// Everything decided before any weight is touched: the per-tensor types and the output's
// metadata. quantize_model() = plan_quantization() + writing. The one plan type: the cost model
// reads it as it is (plan/cost_model.h planned_tensors), the calibrated driver takes each
// tensor's output type from it, methods adapt it (CalibMethod::adapt_plan) and the exporters
// write it.
struct QuantizePlan {
  std::vector<QuantizedTensor> tensors;  // output order, bytes filled in from the chosen types
  std::vector<GgufKV> metadata;          // output keys in order
  uint32_t ftype = 0;                    // preset's llama_ftype
};
QuantizePlan plan_quantization(const std::string& input, const QuantizeOptions& options);
// The same for a model the caller has already loaded from `input` (load_model(input)): nothing
// is read again but a GGUF input's metadata header.
QuantizePlan plan_quantization(const Model& model, const std::string& input,
                               const QuantizeOptions& options);

// Quantizes `input` into `output` (a .gguf). `on_tensor` (optional) is called after each tensor
// is written, in output order. Throws Error for unreadable input, an unknown preset or type
// (UsageError), a type that does not fit a tensor, an imatrix that does not match the model, or
// output == input.
QuantizeResult quantize_model(const std::string& input, const std::string& output,
                              const QuantizeOptions& options,
                              const std::function<void(const QuantizedTensor&)>& on_tensor = {});
// The same for a model the caller has already loaded from `input` (load_model(input)).
QuantizeResult quantize_model(const Model& model, const std::string& input,
                              const std::string& output, const QuantizeOptions& options,
                              const std::function<void(const QuantizedTensor&)>& on_tensor = {});

}  // namespace edgefit
