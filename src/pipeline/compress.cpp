// run_compress as a short sequence of named stages that pass values: check_options →
// open_out_dir → start_run (device, the model — loaded once and passed to every stage —, recipe,
// methods, contexts) → plan_candidates → plan_build_order → baseline_stage → imatrix_stage →
// per candidate quantize_stage (a recipe's pruning inside the quantization, its recovery steps
// after it, in build_candidate) and validate_stage → choose_stage → write_reports. The baseline,
// imatrix, quantize and validate stages are resumable through the StageCache.
#include "pipeline/compress.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "calib/imatrix_collect.h"
#include "compress/calibrated_quantize.h"
#include "compress/method_registry.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "eval/context_window.h"
#include "eval/language_table.h"
#include "eval/model_tokenizer.h"
#include "methods/imatrix_file.h"
#include "methods/quantize_model.h"
#include "methods/quantize_recipe.h"
#include "model/transformer.h"
#include "pipeline/candidate_sparsity.h"
#include "pipeline/recipe_cost.h"
#include "pipeline/recover_step.h"
#include "pipeline/stage_cache.h"
#include "plan/risk_warnings.h"
#include "recipe/preset_recipe.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

QualityResult quality_of(const EvalResult& r) {
  QualityResult q;
  q.ppl = r.model.ppl();
  q.ppl_stderr = r.model.ppl_stderr();
  q.n_tokens = r.model.count;
  if (r.kld) {
    q.kld_mean = r.kld->mean();
    q.kld_p99 = r.kld->quantile(0.99);
    q.top1 = r.kld->top1_agreement();
  }
  return q;
}

json quality_json(const QualityResult& q) {
  return {q.ppl, q.ppl_stderr, q.kld_mean, q.kld_p99, q.top1, q.n_tokens};
}
QualityResult quality_from(const json& j) {
  return {j[0].get<double>(), j[1].get<double>(), j[2].get<double>(),
          j[3].get<double>(), j[4].get<double>(), j[5].get<int64_t>()};
}

// Per-language results (or one "text" entry) of MODEL, optionally against BASE.
struct EvalOutcome {
  QualityResult overall;                           // all tokens pooled
  std::map<std::string, QualityResult> languages;  // per file stem
};

json outcome_json(const EvalOutcome& o) {
  json j;
  j["overall"] = quality_json(o.overall);
  for (const auto& [k, q] : o.languages) j["languages"][k] = quality_json(q);
  return j;
}
EvalOutcome outcome_from(const json& j) {
  EvalOutcome o;
  o.overall = quality_from(j["overall"]);
  if (j.contains("languages"))
    for (auto it = j["languages"].begin(); it != j["languages"].end(); ++it)
      o.languages[it.key()] = quality_from(it.value());
  return o;
}

EvalOutcome evaluate(Transformer& model, Transformer* base, const Tokenizer& tok,
                     const CompressOptions& o, const EvalOptions& eo) {
  EvalOutcome out;
  if (!o.langs_dir.empty()) {
    const LanguageTable t = evaluate_languages(model, base, tok, o.langs_dir, eo);
    out.overall = quality_of(t.pooled);
    for (const auto& row : t.rows) out.languages[row.language] = quality_of(row.result);
  } else {
    const EvalResult r = evaluate_text(model, base, tok, read_file(o.text), o.text, eo);
    out.overall = quality_of(r);
    out.languages[fs::path(o.text).stem().string()] = quality_of(r);
  }
  return out;
}

// Decode tokens/s of a model on this machine: 64 single-token steps after a 16-token prompt.
double measure_decode_tps(const Model& m) {
  Transformer t(m);
  KVCache cache = t.make_cache(96);
  std::vector<int32_t> prompt(16, std::max(0, m.config.bos_id));
  t.forward(prompt, cache, 15);
  const int steps = 64;
  int32_t tok = prompt.back();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) {
    const std::vector<float> logits = t.forward(std::span<const int32_t>(&tok, 1), cache);
    tok = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  return steps / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> eval_files(const CompressOptions& o) {
  if (!o.langs_dir.empty()) return language_files(o.langs_dir);
  return {o.text};
}

// The methods that run on the layer-streaming calibration driver (GPTQ and the pruning methods
// of the registry; a recipe's rules' sparsity is carried out by the latter).
bool is_calibrated_method(const std::string& m) {
  return m == "gptq" || m == "magnitude" || m == "wanda" || m == "sparsegpt";
}

// The recipe of --recipe, checked against the model (nullopt without one).
std::optional<Recipe> recipe_of_file(const CompressOptions& o, const Model& model) {
  if (o.recipe_file.empty()) return std::nullopt;
  if (!o.recipes.empty()) throw UsageError("--recipe and --recipes exclude each other");
  if (!o.methods.empty()) throw UsageError("--recipe names its method; drop --methods");
  Recipe r = read_recipe(o.recipe_file);
  check_recipe_against_model(r, model, o.recipe_file);
  const std::string& m = r.method.name;
  if (m != "rtn" && m != "imatrix" && !is_calibrated_method(m))
    throw Error(
        "method.name: compress builds rtn, imatrix, gptq, magnitude, wanda and sparsegpt "
        "recipes; quantize a '" +
            m + "' recipe with `edgefit quantize --recipe`",
        o.recipe_file);
  if (m != "rtn" && m != "magnitude" && o.calib.empty())
    throw UsageError("the recipe's method is " + m + ": give calibration text with --calib");
  return r;
}

// The recipes compress tries: the one from --recipe, or a preset recipe per name (their method
// is set per candidate from candidate_methods()).
std::vector<Recipe> candidate_recipes(const CompressOptions& o, const std::optional<Recipe>& file) {
  if (file) return {*file};
  std::vector<Recipe> out;
  for (const auto& name : o.recipes.empty() ? default_recipes() : o.recipes)
    out.push_back(recipe_from_preset(name));
  return out;
}

// The methods each recipe is built with: with calibration text, imatrix RTN and GPTQ compete;
// a recipe file says its own.
std::vector<std::string> candidate_methods(const CompressOptions& o,
                                           const std::optional<Recipe>& file) {
  if (file) return {file->method.name};
  if (!o.methods.empty()) {
    for (const auto& m : o.methods)
      if (m != "rtn" && m != "imatrix" && m != "gptq")
        throw UsageError("--methods takes rtn, imatrix and gptq, got '" + m + "'");
    if (o.calib.empty())
      for (const auto& m : o.methods)
        if (m != "rtn")
          throw UsageError("--methods " + m + " needs calibration text (--calib FILE…)");
    return o.methods;
  }
  if (o.calib.empty()) return {"rtn"};
  return {"imatrix", "gptq"};
}

// How the choice sees a candidate.
std::vector<RecipeCandidate> recipe_candidates(const std::vector<CandidateResult>& cs) {
  std::vector<RecipeCandidate> out;
  for (const auto& c : cs)
    out.push_back({c.method == "rtn" ? c.recipe : c.recipe + " (" + c.method + ")", c.cost, c.built,
                   c.overall.kld_mean, c.max_dppl_pct});
  return out;
}

// Everything the stages read, settled once before the first stage runs.
struct CompressRun {
  const CompressOptions& options;     // as the user gave them
  DeviceProfile device;               // the target
  Model model;                        // the input, loaded once for every stage
  std::optional<Recipe> recipe_file;  // --recipe, checked against the model
  std::vector<std::string> methods;   // how each recipe is built (candidate_methods())
  int context = 0;                    // tokens the device's RAM must hold (KV cache)
  EvalOptions eval;                   // validation window and chunk count
  std::vector<std::string> warnings;  // about the chosen contexts, for the report
};

// Stage 0: the usage errors, before anything is read.
void check_options(const CompressOptions& o) {
  if (o.langs_dir.empty() && o.text.empty())
    throw UsageError("compress needs --langs DIR or --text FILE to validate");
  if (o.out_dir.empty()) throw UsageError("compress needs -o OUTDIR");
  if (!(o.criteria.max_ppl_increase_pct > 0))
    throw UsageError("--max-ppl-increase must be positive");
  if (o.criteria.min_tps < 0) throw UsageError("--min-tps must not be negative");
  if (o.context < 0) throw UsageError("--context must be positive");
  if (o.recipe_file.empty()) (void)candidate_methods(o, std::nullopt);
}

// The output folder with its stage records. A run killed mid-write leaves "<file>.tmp-<pid>"
// behind (outputs are renamed into place only when complete); they are cleared so they are not
// mistaken for results.
StageCache open_out_dir(const CompressOptions& o) {
  fs::create_directories(o.out_dir);
  for (const auto& e : fs::directory_iterator(o.out_dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) fs::remove(e.path());
  return StageCache(o.out_dir);
}

// Stage 1: device, model (loaded here and nowhere else), recipe file, methods and contexts.
CompressRun start_run(const CompressOptions& o) {
  CompressRun run{o, load_device(o.device, o.out_dir), load_model(o.model), {}, {}, 0, {}, {}};
  run.recipe_file = recipe_of_file(o, run.model);
  run.methods = candidate_methods(o, run.recipe_file);
  const int trained = run.model.config.max_context;
  run.context = resolve_context(o.context, trained);
  run.eval.ctx = resolve_context(o.eval_ctx, trained);
  run.eval.max_chunks = o.max_chunks;
  for (const auto& w : {context_warning(run.context, trained, "--context"),
                        context_warning(run.eval.ctx, trained, "--eval-ctx")})
    if (w) {
      std::fprintf(stderr, "edgefit: warning: %s\n", w->c_str());
      run.warnings.push_back(*w);
    }
  std::fprintf(stderr,
               "edgefit compress: %s (%s, %.2f M params) for %s, context %d, objective %s, ΔPPL "
               "bound %.1f %%\n",
               o.model.c_str(), run.model.config.architecture.c_str(), run.model.n_params() / 1e6,
               run.device.name.c_str(), run.context, objective_name(o.criteria.objective),
               o.criteria.max_ppl_increase_pct);
  return run;
}

// The report's fields that the run settles before anything is built.
CompressReport report_header(const CompressRun& run) {
  const CompressOptions& o = run.options;
  CompressReport rep;
  rep.model = o.model;
  rep.max_ppl_increase_pct = o.criteria.max_ppl_increase_pct;
  rep.objective = objective_name(o.criteria.objective);
  rep.min_tps = o.criteria.min_tps;
  rep.target_size_bytes = o.criteria.target_size_bytes;
  rep.device = run.device;
  rep.architecture = run.model.config.architecture;
  rep.n_params = run.model.n_params();
  rep.context = run.context;
  rep.warnings = run.warnings;
  return rep;
}

// Stage 2 (instant, so it runs before the baseline): every candidate — recipe × method — with
// the cost of the types its recipe resolves to, smallest file first.
std::vector<CandidateResult> plan_candidates(const CompressRun& run) {
  const CompressOptions& o = run.options;
  std::vector<CandidateResult> out;
  for (const Recipe& recipe : candidate_recipes(o, run.recipe_file)) {
    CandidateResult c;
    c.recipe = recipe.name;
    RecipeCost rc = recipe_cost(run.model, o.model, recipe, o.recipe_file, run.device, run.context);
    c.cost = rc.cost;
    c.tensor_bits = std::move(rc.tensor_bits);
    for (const auto& method : run.methods) {  // same types and size, different rounding
      c.method = method;
      Recipe built = recipe;
      built.method.name = method;
      c.recipe_json = recipe_to_json(built);
      out.push_back(c);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.cost.file_bytes < b.cost.file_bytes;
  });
  return out;
}

// Which candidates to build, in which order, and why the others cannot qualify.
struct BuildOrder {
  BuildPlan plan;                     // the choice's build plan (order, stop rule, refusal)
  std::vector<size_t> order;          // plan.order, plus the fuller report's extra candidates
  std::vector<std::string> warnings;  // "q2_k ruled out for pi5: …", one per recipe
};

// Stage 2, second half: the plan's order (printing one line per recipe).
BuildOrder plan_build_order(const CompressRun& run, const std::vector<CandidateResult>& cs) {
  const CompressOptions& o = run.options;
  BuildOrder b;
  b.plan = plan_builds(recipe_candidates(cs), o.criteria, run.device, run.context);
  for (const auto& c : cs) {
    if (c.method != run.methods.front()) continue;  // one line per recipe: methods share the cost
    const std::string why = rule_out_reason(recipe_candidates({c}).front(), o.criteria, run.device);
    std::fprintf(stderr, "  plan %-7s %10s file, %10s at run time, %.2f bpw, ~%.1f tok/s%s%s\n",
                 c.recipe.c_str(), format_bytes(c.cost.file_bytes).c_str(),
                 format_bytes(c.cost.runtime_bytes).c_str(), c.cost.bits_per_weight,
                 c.cost.predicted_tps, why.empty() ? "" : "  ruled out: ", why.c_str());
    if (!why.empty())
      b.warnings.push_back(c.recipe + " ruled out for " + run.device.id + ": " + why);
  }
  b.order = b.plan.order;
  if (o.evaluate_all)  // a fuller report: also what fits but misses the speed or size target
    for (size_t i = 0; i < cs.size(); ++i)
      if (cs[i].cost.fits() && std::find(b.order.begin(), b.order.end(), i) == b.order.end())
        b.order.push_back(i);
  return b;
}

// The files every validation depends on: the evaluation texts and the model.
std::vector<std::string> eval_inputs(const CompressOptions& o) {
  std::vector<std::string> inputs = eval_files(o);
  inputs.push_back(o.model);
  return inputs;
}

// Stage 3: the full-precision model's quality per language.
EvalOutcome baseline_stage(const CompressRun& run, const StageCache& stages, Transformer& base,
                           const Tokenizer& tok) {
  const CompressOptions& o = run.options;
  const std::string key = StageCache::make_key(
      {"baseline", std::to_string(run.eval.ctx), std::to_string(run.eval.max_chunks)},
      eval_inputs(o));
  if (auto cached = stages.load("baseline", key)) {
    std::fprintf(stderr, "stage baseline: cached\n");
    return outcome_from(*cached);
  }
  std::fprintf(stderr, "stage baseline: evaluating the full-precision model\n");
  EvalOutcome baseline = evaluate(base, nullptr, tok, o, run.eval);
  stages.save("baseline", key, outcome_json(baseline));
  return baseline;
}

// The importance matrix the imatrix candidates are rounded with, and where it is stored.
struct ImatrixStage {
  std::optional<Imatrix> imatrix;  // none when no candidate uses it
  std::string path;                // OUTDIR/imatrix.gguf
};

// Stage 4: the importance matrix from calibration text (when a candidate needs it).
ImatrixStage imatrix_stage(const CompressRun& run, const StageCache& stages, const Tokenizer& tok) {
  const CompressOptions& o = run.options;
  ImatrixStage out;
  if (std::find(run.methods.begin(), run.methods.end(), "imatrix") == run.methods.end()) return out;
  out.path = o.out_dir + "/imatrix.gguf";
  std::vector<std::string> inputs = o.calib;
  inputs.push_back(o.model);
  const std::string key = StageCache::make_key(
      {"imatrix", std::to_string(run.eval.ctx), std::to_string(o.calib_tokens)}, inputs);
  const auto cached = stages.load("imatrix", key);
  if (cached && StageCache::output_intact(*cached, out.path)) {
    std::fprintf(stderr, "stage imatrix: cached\n");
  } else {
    std::fprintf(stderr,
                 "stage imatrix: collecting activation statistics from %zu calibration files\n",
                 o.calib.size());
    CalibrationOptions co;
    co.files = o.calib;
    co.ctx = run.eval.ctx;
    co.max_tokens_per_file = o.calib_tokens > 0 ? o.calib_tokens : 16384;
    write_imatrix_gguf(collect_imatrix(run.model, tok, co), out.path);
    stages.save("imatrix", key, StageCache::output_record(out.path));
  }
  out.imatrix = read_imatrix(out.path);
  return out;
}

// A recipe's recovery steps on the candidate just written: each lora step trains adapters on
// c.file against the uncompressed model on the calibration text, and the merged model (adapters
// folded in, re-quantized to c.file's types) replaces c.file; the adapter stays beside it.
void run_recovery_steps(const CompressRun& run, const CandidateResult& c, const Recipe& recipe) {
  const CompressOptions& o = run.options;
  for (size_t i = 0; i < recipe.recovery.size(); ++i) {
    if (o.calib.empty())
      throw UsageError("the recipe's recovery step needs calibration text (--calib FILE…)");
    const std::string merged = c.file + ".recovered.gguf";
    apply_recovery_step(recipe, i, o.recipe_file,
                        {c.file, o.model, o.calib, o.tokenizer, c.file + ".lora.gguf", merged});
    std::filesystem::rename(merged, c.file);
  }
}

// Quantizes one candidate into c.file from the loaded model: RTN (with the importance matrix
// when there is one), or GPTQ or a pruning method on the calibration text, windows of the
// evaluation length.
void build_candidate(const CompressRun& run, const CandidateResult& c, const ImatrixStage& im) {
  const CompressOptions& o = run.options;
  const Recipe recipe = parse_recipe(c.recipe_json.dump(), o.recipe_file);
  // A recipe's pruning — its rules' `sparsity` — runs inside the quantization below (the pruning
  // methods of the registry); its `recovery` steps (lora) run on the written candidate right
  // after it, before validation (run_recovery_steps).
  QuantizeOptions qo = quantize_options_from_recipe(recipe, o.recipe_file, true);
  qo.show_progress = true;
  if (!is_calibrated_method(c.method)) {
    if (c.method == "imatrix") {
      qo.imatrix = im.imatrix ? &*im.imatrix : nullptr;
      qo.imatrix_path = im.path;
    }
    qo.method = c.method;
    quantize_model(run.model, o.model, c.file, qo);
    run_recovery_steps(run, c, recipe);
    return;
  }
  CalibratedOptions co;
  co.method = c.method;  // gptq, or a pruning method (magnitude needs no text)
  co.calib_files = o.calib;
  co.seqlen = run.eval.ctx;
  // As many windows as the calibration token budget allows (128 at most, GPTQ's usual N).
  const int64_t tokens = o.calib_tokens > 0 ? o.calib_tokens * static_cast<int64_t>(o.calib.size())
                                            : 128LL * run.eval.ctx;
  co.samples = static_cast<int>(std::clamp<int64_t>(tokens / run.eval.ctx, 8, 128));
  co.tokenizer = o.tokenizer;
  apply_method_params(recipe.method, co, o.recipe_file);  // a recipe's own GPTQ settings
  quantize_model_calibrated(run.model, o.model, c.file, qo, co);
  run_recovery_steps(run, c, recipe);
}

// The candidate's stage name and output file: "q4_k_m", "q4_k_m-gptq".
std::string candidate_stage(const CandidateResult& c) {
  return c.recipe + (c.method == "gptq" ? "-gptq" : "");
}

// Stage 5: the candidate's GGUF (c.file), unless an intact one with the same key exists.
void quantize_stage(const CompressRun& run, const StageCache& stages, const CandidateResult& c,
                    const ImatrixStage& im) {
  const CompressOptions& o = run.options;
  const std::string stage = candidate_stage(c);
  std::vector<std::string> inputs = eval_inputs(o);
  inputs.insert(inputs.end(), o.calib.begin(), o.calib.end());
  std::vector<std::string> parts = {"quantize", c.recipe, c.method, std::to_string(run.eval.ctx),
                                    std::to_string(o.calib_tokens)};
  if (!o.recipe_file.empty()) parts.push_back(c.recipe_json.dump());  // the rules count too
  const std::string key = StageCache::make_key(parts, inputs);
  const auto cached = stages.load("quantize-" + stage, key);
  if (cached && StageCache::output_intact(*cached, c.file)) {  // a truncated file is redone
    std::fprintf(stderr, "stage quantize %s: cached\n", stage.c_str());
    return;
  }
  std::fprintf(stderr, "stage quantize %s\n", stage.c_str());
  build_candidate(run, c, im);
  stages.save("quantize-" + stage, key, StageCache::output_record(c.file));
}

// Stage 6: the candidate's quality per language against the baseline model.
EvalOutcome validate_stage(const CompressRun& run, const StageCache& stages,
                           const CandidateResult& c, const Model& quantized, Transformer& base,
                           const Tokenizer& tok) {
  const std::string stage = candidate_stage(c);
  std::vector<std::string> inputs = eval_inputs(run.options);
  inputs.push_back(c.file);
  const std::string key = StageCache::make_key(
      {"validate", stage, std::to_string(run.eval.ctx), std::to_string(run.eval.max_chunks)},
      inputs);
  if (auto cached = stages.load("validate-" + stage, key)) {
    std::fprintf(stderr, "stage validate %s: cached\n", stage.c_str());
    return outcome_from(*cached);
  }
  std::fprintf(stderr, "stage validate %s: per-language PPL and KLD against the baseline\n",
               stage.c_str());
  Transformer qt(quantized);
  EvalOutcome outcome = evaluate(qt, &base, tok, run.options, run.eval);
  stages.save("validate-" + stage, key, outcome_json(outcome));
  return outcome;
}

// What the run shares between the candidates it builds: the baseline and its inputs.
struct BuildInputs {
  Transformer& base;            // the full-precision model, the reference of every KLD
  const Tokenizer& tok;         // the model's tokenizer
  const EvalOutcome& baseline;  // its quality per language
  const ImatrixStage& imatrix;  // importance for the imatrix candidates
};

// Stages 5 and 6 for one candidate: built (or reused), validated, and its numbers filled in.
CandidateResult build_and_validate(const CompressRun& run, const StageCache& stages,
                                   CandidateResult c, const BuildInputs& in) {
  c.file = run.options.out_dir + "/" + candidate_stage(c) + ".gguf";
  quantize_stage(run, stages, c, in.imatrix);
  c.cost.file_bytes = fs::file_size(c.file);  // the real size replaces the estimate
  const Model quantized = load_model(c.file);
  if (recipe_prunes(parse_recipe(c.recipe_json.dump(), run.options.recipe_file))) {
    ModelSparsity s = model_sparsity(quantized);
    c.tensor_sparsity = std::move(s.tensors);
    c.layer_sparsity = std::move(s.layers);
  }
  const EvalOutcome outcome = validate_stage(run, stages, c, quantized, in.base, in.tok);
  c.built = true;
  c.overall = outcome.overall;
  c.languages = outcome.languages;
  c.max_dppl_pct = -1e9;
  for (const auto& [lang, q] : c.languages) {
    const auto base = in.baseline.languages.find(lang);
    const double pb = base == in.baseline.languages.end() ? 0.0 : base->second.ppl;
    c.max_dppl_pct = std::max(c.max_dppl_pct, 100.0 * (q.ppl / pb - 1));
  }
  if (run.options.measure_speed && run.device.measured)
    c.measured_tps = measure_decode_tps(quantized);
  std::fprintf(stderr, "  %s: mean KLD %.5f, worst ΔPPL %+.2f %%\n", candidate_stage(c).c_str(),
               c.overall.kld_mean, c.max_dppl_pct);
  return c;
}

// Stages 5 and 6 over the build order (size and speed: until the first within the bound;
// quality: all of them, since quality is measured).
std::vector<CandidateResult> build_candidates(const CompressRun& run, const StageCache& stages,
                                              std::vector<CandidateResult> cs, const BuildOrder& b,
                                              const BuildInputs& in) {
  for (size_t i : b.order) {
    cs[i] = build_and_validate(run, stages, std::move(cs[i]), in);
    if (b.plan.stop_at_first_within_bound && !run.options.evaluate_all &&
        cs[i].max_dppl_pct <= run.options.criteria.max_ppl_increase_pct)
      break;
  }
  return cs;
}

// What plan/risk_warnings.h needs of the chosen candidate.
ChosenRecipeRisk chosen_risk(const CompressReport& rep) {
  const CandidateResult& c = rep.candidates[static_cast<size_t>(rep.chosen)];
  ChosenRecipeRisk risk{c.recipe, c.tensor_bits, {}, {}, rep.max_ppl_increase_pct};
  for (const auto& [lang, q] : c.languages) risk.ppl[lang] = q.ppl;
  for (const auto& [lang, q] : rep.baseline_languages) risk.baseline_ppl[lang] = q.ppl;
  return risk;
}

// Stage 7: the choice over the measured candidates, with the risks of the chosen one.
void choose_stage(const CompressRun& run, CompressReport& rep) {
  const RecipeChoice choice =
      choose_recipe(recipe_candidates(rep.candidates), run.options.criteria, run.device);
  rep.chosen = choice.chosen;
  rep.runner_up = choice.runner_up;
  rep.decision = choice.reason;
  std::fprintf(stderr, "decision: %s\n", choice.reason.c_str());
  if (!choice.within_bound) rep.warnings.push_back(choice.reason);
  if (rep.chosen >= 0)
    for (auto& w : recipe_risk_warnings(chosen_risk(rep))) rep.warnings.push_back(std::move(w));
}

// Stage 8: report.json and report.html, with the run's wall time.
void write_reports(const CompressOptions& o, CompressReport& rep,
                   std::chrono::steady_clock::time_point t_start) {
  rep.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  write_file_atomic(o.out_dir + "/report.json", report_to_json(rep).dump(2) + "\n");
  write_file_atomic(o.out_dir + "/report.html", report_to_html(rep));
}

}  // namespace

const std::vector<std::string>& default_recipes() {
  static const std::vector<std::string> r = {"q2_k",   "q3_k_m", "q4_0", "q4_k_m",
                                             "q5_k_m", "q6_k",   "q8_0"};
  return r;
}

CompressReport run_compress(const CompressOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  check_options(o);
  const StageCache stages = open_out_dir(o);
  const CompressRun run = start_run(o);
  CompressReport rep = report_header(run);

  rep.candidates = plan_candidates(run);
  const BuildOrder order = plan_build_order(run, rep.candidates);
  rep.warnings.insert(rep.warnings.end(), order.warnings.begin(), order.warnings.end());
  if (!order.plan.refusal.empty()) {  // the report says why too, then the one error line
    rep.decision = order.plan.refusal;
    write_reports(o, rep, t_start);
    throw Error(order.plan.refusal);
  }

  const auto tok = load_model_tokenizer(o.model, o.tokenizer, run.model.config.vocab_size);
  Transformer base(run.model);
  const EvalOutcome baseline = baseline_stage(run, stages, base, *tok);
  rep.baseline = baseline.overall;
  rep.baseline_languages = baseline.languages;
  const ImatrixStage imatrix = imatrix_stage(run, stages, *tok);

  rep.candidates = build_candidates(run, stages, std::move(rep.candidates), order,
                                    {base, *tok, baseline, imatrix});
  choose_stage(run, rep);
  write_reports(o, rep, t_start);
  return rep;
}

}  // namespace edgefit
