#include "compress/calibrated_quantize.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <unordered_map>

#include "calib/calib_data.h"
#include "compress/method_registry.h"
#include "compress/work_dir.h"
#include "core/error.h"
#include "core/process_memory.h"
#include "core/progress.h"
#include "eval/model_tokenizer.h"
#include "export/write_quantized_gguf.h"
#include "formats/gguf_arch.h"
#include "formats/qk_permute.h"
#include "prune/sparse_formats.h"
#include "prune/sparsity_pattern.h"
#include "quant/quant_traits.h"
#include "recipe/recipe.h"

namespace edgefit {
namespace fs = std::filesystem;
namespace {

// Everything the output depends on, for the work directory's key.
std::string run_description(const std::string& input, const QuantizePlan& plan,
                            const CalibMethod& method, const CalibratedOptions& co,
                            const std::string& tokenizer_path,
                            const std::map<std::string, std::string>& sparsity) {
  std::string d = "edgefit-calib-v1\n" + file_identity(input) + "\n" + co.method + "\n";
  for (const auto& t : plan.tensors) d += t.name + "=" + std::string(dtype_name(t.to)) + ";";
  d += "\n";
  for (const auto& f : co.calib_files) d += file_identity(f) + "\n";
  for (double w : co.calib_weights) d += std::to_string(w) + ",";
  d += "\nN=" + std::to_string(co.samples) + " L=" + std::to_string(co.seqlen) +
       " tok=" + tokenizer_path;
  if (method.describe) d += " " + method.describe(co);  // the method's own settings
  d += "\nowl=" + std::to_string(co.owl.enabled) + "," + std::to_string(co.owl.lambda) + "," +
       std::to_string(co.owl.m) + "\nsparsity=";
  for (const auto& [name, pattern] : sparsity) d += name + "=" + pattern + ";";
  return d;
}

// The sparsity pattern of every tensor the rules prune (tensor name → "0.5" / "2:4"), checked
// against the model: only the blocks' linear weights are pruned (a rule matching a 2-D tensor
// outside them is an error; 1-D norms and biases are passed over), and an N:M pattern needs rows
// that are whole groups. Throws Error naming the rule or the tensor.
std::map<std::string, std::string> resolve_sparsity(const Model& model,
                                                    const std::vector<SparsityRule>& rules) {
  std::map<std::string, std::string> out;
  for (const SparsityRule& rule : rules) {
    const std::regex re(rule.match, std::regex::ECMAScript);
    SparsityPattern pattern;
    try {
      pattern = SparsityPattern::parse(rule.pattern);
    } catch (const Error& e) {
      throw Error(rule.source + ": " + e.what());
    }
    for (const ModelTensor& t : model.tensors) {
      if (!std::regex_search(t.name, re)) continue;
      const int layer = tensor_layer(t.name);
      if ((rule.layer_first >= 0 || rule.layer_last >= 0) &&
          (layer < 0 || (rule.layer_first >= 0 && layer < rule.layer_first) ||
           (rule.layer_last >= 0 && layer > rule.layer_last)))
        continue;
      if (!is_block_linear_weight(t.name)) {
        // "every weight" means the blocks' linear weights; norms and biases have nothing to
        // prune. An embedding or output head named by a rule is a mistake worth an error.
        if (rule.match.empty() || t.view.ndim < 2) continue;
        throw Error(rule.source + ": '" + t.name +
                    "' is not a linear weight of a block; only those can be pruned");
      }
      pattern.check_row(t.view.row_size(), "'" + t.name + "'");
      if (pattern.dense())
        out.erase(t.name);
      else
        out[t.name] = pattern.to_string();
    }
  }
  return out;
}

// Throws Error naming the tensor when a pruned weight's type is a sparse storage type whose
// blocks cannot hold its pattern (with OWL's band), before any work. True when a pruned weight is
// stored sparse (SparseGPT rounds its kept values jointly on the type's grid, the other methods
// after pruning with the type's quantizer).
bool check_sparse_storage(const std::map<std::string, std::string>& sparsity,
                          const std::unordered_map<std::string, DType>& types,
                          const CalibratedOptions& co) {
  bool any = false;
  for (const auto& [name, text] : sparsity) {
    const auto it = types.find(name);
    if (it == types.end() || !is_sparse_dtype(it->second)) continue;
    const std::string why = sparse_storage_misfit(it->second, SparsityPattern::parse(text),
                                                  co.owl.enabled ? co.owl.lambda : -1);
    if (!why.empty()) throw Error("'" + name + "': " + why);
    any = true;
  }
  return any;
}

// The calibration windows of `co` for `model`, recorded in rep (files and token counts) and as
// edgefit.calibration.* keys in q.
CalibrationWindows draw_windows(const std::string& input, const Model& model,
                                const CalibratedOptions& co, CalibratedReport& rep,
                                QuantizeOptions& q) {
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
  CalibrationWindows cw = draw_calibration_windows(*tok, draw);
  for (size_t f = 0; f < co.calib_files.size(); ++f)
    rep.calib_summary.push_back(fs::path(co.calib_files[f]).filename().string() + ":" +
                                std::to_string(cw.per_file[f] * static_cast<size_t>(seqlen)));
  q.extra_metadata.push_back(
      {"edgefit.calibration.files", GgufValue::make_string_array(rep.calib_summary)});
  q.extra_metadata.push_back(
      {"edgefit.calibration.chunks", GgufValue::make_u64(cw.windows.size())});
  q.extra_metadata.push_back(
      {"edgefit.calibration.tokens",
       GgufValue::make_u64(cw.windows.size() * static_cast<size_t>(seqlen))});
  return cw;
}

// "2:4", "0.5 on /ffn/ blocks 0..3": the sparsity rules for the output's metadata.
std::vector<std::string> describe_rules(const std::vector<SparsityRule>& rules) {
  std::vector<std::string> out;
  for (const SparsityRule& r : rules) {
    std::string d = r.pattern;
    if (!r.match.empty()) d += " on /" + r.match + "/";
    if (r.layer_first >= 0 || r.layer_last >= 0)
      d += " blocks " + std::to_string(r.layer_first) + ".." + std::to_string(r.layer_last);
    out.push_back(std::move(d));
  }
  return out;
}

// A method's measuring pass over the dense model (BlockMethod::wants_dense_pass): compress() is
// observe_dense(), and nothing is installed, so every block runs on the dense model's inputs.
class DensePass : public BlockMethod {
 public:
  explicit DensePass(BlockMethod& inner) : inner_(inner) {}
  std::string name() const override { return inner_.name() + " dense pass"; }
  StatsNeeds needs() const override { return {}; }
  void compress(const BlockJob& job) override { inner_.observe_dense(job); }

 private:
  BlockMethod& inner_;  // the method that asked for the pass
};

// Runs the dense pass once, or restores its result from an earlier run of the same job.
void run_dense_pass(const Model& model, const CalibrationWindows& cw, BlockMethod& method,
                    WorkDir& wd, const std::function<DType(const std::string&)>& target_type,
                    const PipelineOptions& po, const std::string& key) {
  std::vector<float> saved;
  if (wd.load_floats("dense_pass", saved)) {
    method.restore_dense_pass(saved);
    return;
  }
  // A half-done pass cannot resume: the blocks it skipped would not be observed again.
  const std::string sub_path = wd.path() + "/dense_pass";
  std::error_code ec;
  fs::remove_all(sub_path, ec);
  WorkDir sub(sub_path, key);
  DensePass pass(method);
  PipelineOptions p = po;
  p.stop_after_block = -1;
  run_layer_pipeline(model, cw, pass, sub, target_type, p);
  wd.save_floats("dense_pass", method.dense_pass_result());
  sub.remove();
}

// The driver for a method that needs no calibration text (magnitude): every block compressed in
// turn from its weights alone, with empty statistics; resumable like the pipeline.
PipelineResult run_without_calibration(const Model& model, BlockMethod& method, WorkDir& wd,
                                       const std::function<DType(const std::string&)>& target_type,
                                       const PipelineOptions& po) {
  PipelineResult res;
  res.first_block_run = std::min(wd.last_done_block(), model.config.n_layers - 1) + 1;
  if (res.first_block_run > 0 && po.progress)
    std::fprintf(stderr, "%s: resuming after block %d (state in %s)\n", method.name().c_str(),
                 res.first_block_run - 1, wd.path().c_str());
  const int n_run = model.config.n_layers - res.first_block_run;
  Progress progress(method.name() + " blocks", static_cast<uint64_t>(std::max(n_run, 0)), "blocks");
  if (!po.progress) Progress::set_quiet(true);
  Model work = model;  // views installed per block; nothing runs on them
  method.prepare(work);
  for (int layer = res.first_block_run; layer < model.config.n_layers; ++layer) {
    const auto t0 = std::chrono::steady_clock::now();
    std::array<InputStats, kNumGroups> stats;
    std::vector<std::shared_ptr<const void>> keep;
    method.compress(
        make_block_job(layer, model, work, stats, target_type, po.target_sparsity, wd, keep));
    work = model;  // drop the views before `keep` frees their bytes
    wd.mark_done(layer);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    res.block_seconds.push_back(s);
    res.method_seconds += s;
    progress.advance();
    if (layer == po.stop_after_block)
      throw Error("stopped after block " + std::to_string(layer) + " (stop_after_block)",
                  wd.path());
  }
  progress.finish();
  if (!po.progress) Progress::set_quiet(false);
  res.peak_rss_bytes = peak_rss_bytes();
  return res;
}

// The request's usage errors, before any model is read; returns the method's block adapter.
std::unique_ptr<BlockMethod> check_request(const std::string& input, const std::string& output,
                                           const QuantizeOptions& qo, const CalibratedOptions& co) {
  const CalibMethod& entry = calib_method(co);  // UsageError for unknown names
  std::unique_ptr<BlockMethod> method = entry.make(co);
  if (!entry.prunes && !qo.sparsity.empty())
    throw Error(qo.sparsity.front().source + ": " + co.method +
                " does not prune (pruning methods: " + pruning_method_names() + ")");
  if (entry.prunes && qo.sparsity.empty())
    throw UsageError(co.method +
                     " prunes: give a sparsity (edgefit prune --sparsity 0.5|2:4, or a " +
                     "recipe rule's sparsity)");
  const bool calibrated = !entry.needs_calibration || entry.needs_calibration(co);
  if (calibrated && co.calib_files.empty())
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
  (void)check_request(input, output, qo, co);
  return quantize_model_calibrated(load_model(input), input, output, qo, co, report);
}

QuantizeResult quantize_model_calibrated(const Model& model, const std::string& input,
                                         const std::string& output, const QuantizeOptions& qo,
                                         const CalibratedOptions& co, CalibratedReport* report) {
  const auto t_start = std::chrono::steady_clock::now();
  const CalibMethod& entry = calib_method(co);
  std::unique_ptr<BlockMethod> method = check_request(input, output, qo, co);
  const bool calibrated = !entry.needs_calibration || entry.needs_calibration(co);
  const std::map<std::string, std::string> sparsity = resolve_sparsity(model, qo.sparsity);
  if (entry.prunes && sparsity.empty())
    throw Error(qo.sparsity.front().source + ": the rules prune no linear weight of the model");
  CalibratedReport rep;
  QuantizeOptions q = qo;
  q.imatrix = nullptr;
  q.imatrix_path.clear();
  q.method = co.method;
  if (!entry.output_preset.empty()) q.preset = std::string(entry.output_preset);
  std::string tok_path;
  CalibrationWindows cw;
  if (calibrated) {
    tok_path = tokenizer_path_for_model(input, co.tokenizer);
    cw = draw_windows(input, model, co, rep, q);
  }
  for (auto& kv : entry.metadata(co)) q.extra_metadata.push_back(std::move(kv));
  if (!sparsity.empty())
    q.extra_metadata.push_back(
        {"edgefit.prune.sparsity", GgufValue::make_string_array(describe_rules(qo.sparsity))});
  QuantizePlan plan = plan_quantization(model, input, q);
  if (entry.adapt_plan) entry.adapt_plan(plan);  // e.g. SmoothQuant: I8 weights + scales

  std::unordered_map<std::string, DType> types;
  for (const auto& t : plan.tensors) types[t.name] = t.to;
  if (check_sparse_storage(sparsity, types, co))  // SparseGPT rounds on the type's grid
    plan.metadata.push_back({"edgefit.prune.sparse_values",
                             GgufValue::make_string(co.method == "sparsegpt" ? "joint" : "rtn")});
  auto target_type = [&types](const std::string& name) {
    const auto it = types.find(name);
    if (it == types.end()) throw Error("tensor '" + name + "' is not in the quantization plan");
    return it->second;
  };

  const std::string key = hash_key(run_description(input, plan, entry, co, tok_path, sparsity));
  WorkDir wd(co.work_dir.empty() ? output + ".work" : co.work_dir, key);
  PipelineOptions po;
  po.progress = co.progress;
  po.stop_after_block = co.stop_after_block;
  po.release_pages = true;  // load_model() maps every tensor read-only
  po.target_sparsity = [&sparsity](const std::string& name) {
    const auto it = sparsity.find(name);
    return it == sparsity.end() ? std::string() : it->second;
  };
  if (!calibrated) {
    rep.pipeline = run_without_calibration(model, *method, wd, target_type, po);
  } else {
    if (method->wants_dense_pass()) run_dense_pass(model, cw, *method, wd, target_type, po, key);
    rep.pipeline = run_layer_pipeline(model, cw, *method, wd, target_type, po);
  }

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
