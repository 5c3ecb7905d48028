#include "compress/calibrated_quantize.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <unordered_map>

#include "calib/calib_data.h"
#include "compress/method_registry.h"
#include "compress/work_dir.h"
#include "core/error.h"
#include "eval/model_tokenizer.h"
#include "export/write_quantized_gguf.h"
#include "formats/gguf_arch.h"
#include "formats/qk_permute.h"
#include "quant/quant_traits.h"

namespace edgefit {
namespace fs = std::filesystem;
namespace {

// Everything the output depends on, for the work directory's key.
std::string run_description(const std::string& input, const QuantizePlan& plan,
                            const CalibMethod& method, const CalibratedOptions& co,
                            const std::string& tokenizer_path) {
  std::string d = "edgefit-calib-v1\n" + file_identity(input) + "\n" + co.method + "\n";
  for (const auto& t : plan.tensors) d += t.name + "=" + std::string(dtype_name(t.to)) + ";";
  d += "\n";
  for (const auto& f : co.calib_files) d += file_identity(f) + "\n";
  for (double w : co.calib_weights) d += std::to_string(w) + ",";
  d += "\nN=" + std::to_string(co.samples) + " L=" + std::to_string(co.seqlen) +
       " tok=" + tokenizer_path;
  if (method.describe) d += " " + method.describe(co);  // the method's own settings
  return d;
}

// The request's usage errors, before any model is read; returns the method's block adapter.
std::unique_ptr<BlockMethod> check_request(const std::string& input, const std::string& output,
                                           const CalibratedOptions& co) {
  const CalibMethod& entry = calib_method(co);  // UsageError for unknown names
  std::unique_ptr<BlockMethod> method = entry.make(co);
  if (co.calib_files.empty())
    throw UsageError("--method " + co.method + " needs calibration text (--calib FILE…)");
  if (co.samples <= 0 || co.seqlen <= 1)
    throw UsageError("--samples and --seqlen must be positive");
  std::error_code ec;
  if (fs::exists(output, ec) && fs::equivalent(input, output, ec))
    throw Error("the output would replace the input; choose another output path", output);
  return method;
}

}  // namespace

QuantizeResult quantize_model_calibrated(const std::string& input, const std::string& output,
                                         const QuantizeOptions& qo, const CalibratedOptions& co,
                                         CalibratedReport* report) {
  (void)check_request(input, output, co);
  return quantize_model_calibrated(load_model(input), input, output, qo, co, report);
}

QuantizeResult quantize_model_calibrated(const Model& model, const std::string& input,
                                         const std::string& output, const QuantizeOptions& qo,
                                         const CalibratedOptions& co, CalibratedReport* report) {
  const auto t_start = std::chrono::steady_clock::now();
  const CalibMethod& entry = calib_method(co);
  std::unique_ptr<BlockMethod> method = check_request(input, output, co);
  const std::string tok_path = tokenizer_path_for_model(input, co.tokenizer);
  const auto tok = load_model_tokenizer(input, co.tokenizer, model.config.vocab_size);
  int seqlen = co.seqlen;
  if (model.config.max_context > 0 && seqlen > model.config.max_context) {
    if (co.progress)
      std::fprintf(stderr,
                   "calibration: --seqlen %d exceeds the model's trained context; using %d\n",
                   seqlen, model.config.max_context);
    seqlen = model.config.max_context;
  }
  CalibrationDraw draw;
  draw.files = co.calib_files;
  draw.weights = co.calib_weights;
  draw.ctx = seqlen;
  draw.total_windows = co.samples;
  const CalibrationWindows cw = draw_calibration_windows(*tok, draw);
  CalibratedReport rep;
  for (size_t f = 0; f < co.calib_files.size(); ++f)
    rep.calib_summary.push_back(fs::path(co.calib_files[f]).filename().string() + ":" +
                                std::to_string(cw.per_file[f] * static_cast<size_t>(seqlen)));

  QuantizeOptions q = qo;
  q.imatrix = nullptr;
  q.imatrix_path.clear();
  q.method = co.method;
  if (!entry.output_preset.empty()) q.preset = std::string(entry.output_preset);
  q.extra_metadata.push_back(
      {"edgefit.calibration.files", GgufValue::make_string_array(rep.calib_summary)});
  q.extra_metadata.push_back(
      {"edgefit.calibration.chunks", GgufValue::make_u64(cw.windows.size())});
  q.extra_metadata.push_back(
      {"edgefit.calibration.tokens",
       GgufValue::make_u64(cw.windows.size() * static_cast<size_t>(seqlen))});
  for (auto& kv : entry.metadata(co)) q.extra_metadata.push_back(std::move(kv));
  QuantizePlan plan = plan_quantization(model, input, q);
  if (entry.adapt_plan) entry.adapt_plan(plan);  // e.g. SmoothQuant: I8 weights + scales

  std::unordered_map<std::string, DType> types;
  for (const auto& t : plan.tensors) types[t.name] = t.to;
  auto target_type = [&types](const std::string& name) {
    const auto it = types.find(name);
    if (it == types.end()) throw Error("tensor '" + name + "' is not in the quantization plan");
    return it->second;
  };

  WorkDir wd(co.work_dir.empty() ? output + ".work" : co.work_dir,
             hash_key(run_description(input, plan, entry, co, tok_path)));
  PipelineOptions po;
  po.progress = co.progress;
  po.stop_after_block = co.stop_after_block;
  po.release_pages = true;  // load_model() maps every tensor read-only
  rep.pipeline = run_layer_pipeline(model, cw, *method, wd, target_type, po);

  // Assemble the GGUF: method outputs from the work directory, every other tensor converted.
  const bool permute_qk = !model.config.rope_interleaved && gguf_arch_name(model.config) == "llama";
  const int64_t head_dim = model.config.head_dim;
  auto produce = [&](const QuantizedTensor& t, AtomicFileWriter& out) {
    std::vector<uint8_t> bytes;
    const int64_t row_len = static_cast<int64_t>(t.ne[0]);
    int64_t n_rows = 1;
    for (size_t i = 1; i < t.ne.size(); ++i) n_rows *= static_cast<int64_t>(t.ne[i]);
    if (wd.has_tensor(t.name)) {
      DType type;
      bytes = wd.load_tensor(t.name, &type);
      if (type != t.to || bytes.size() != t.bytes)
        throw Error("saved tensor '" + t.name + "' does not match the plan", wd.path());
    } else {
      const ModelTensor* src = model.find(t.name);
      if (!src) throw Error("tensor '" + t.name + "' was not produced by " + co.method, wd.path());
      std::vector<float> f32(static_cast<size_t>(n_rows * row_len));
      dequantize_tensor(src->view.dtype, src->view.data, n_rows, row_len, f32.data());
      const bool head = t.name == "output.weight" &&
                        rep.pipeline.output_importance.size() == static_cast<size_t>(row_len);
      bytes.resize(t.bytes);
      quantize_tensor(t.to, f32.data(), n_rows, row_len, bytes.data(),
                      head ? rep.pipeline.output_importance.data() : nullptr);
    }
    if (permute_qk && is_qk_tensor(t.name)) {
      std::vector<uint8_t> tmp(bytes.size());
      const bool bias = t.name.ends_with(".bias");
      const int64_t rows = bias ? n_rows * row_len : n_rows;
      qk_permute_rows_hf_to_gguf(bytes.data(), tmp.data(), rows,
                                 bytes.size() / static_cast<size_t>(rows), head_dim);
      bytes.swap(tmp);
    }
    out.write(bytes.data(), bytes.size());
  };
  QuantizeResult r = write_quantized_gguf(plan, output, produce);
  if (!co.safetensors_output.empty())
    write_safetensors_export(co, model, plan, wd, co.safetensors_output);
  if (co.progress) {
    const PipelineResult& p = rep.pipeline;
    std::fprintf(stderr,
                 "%s: %lld calibration tokens; forward %.1fs, statistics %.1fs, method %.1fs; "
                 "peak RSS %.1f MiB\n",
                 co.method.c_str(), static_cast<long long>(p.tokens), p.forward_seconds,
                 p.stats_seconds, p.method_seconds,
                 static_cast<double>(p.peak_rss_bytes) / (1024.0 * 1024.0));
  }
  if (!co.keep_work_dir) wd.remove();
  if (report) *report = std::move(rep);
  // The whole job (calibration forward, statistics, method, write), not only the write.
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return r;
}

}  // namespace edgefit
