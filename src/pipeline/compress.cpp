#include "pipeline/compress.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "calib/calibrated_quantize.h"
#include "calib/imatrix_collect.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "eval/context_window.h"
#include "eval/language_table.h"
#include "eval/model_tokenizer.h"
#include "methods/imatrix_file.h"
#include "methods/quantize_model.h"
#include "model/transformer.h"
#include "pipeline/stage_cache.h"
#include "report/recipe_warnings.h"

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

// The methods each recipe is built with: with calibration text, imatrix RTN and GPTQ compete.
std::vector<std::string> candidate_methods(const CompressOptions& o) {
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

// Quantizes one candidate into c.file: RTN (with the importance matrix when there is one) or
// GPTQ on the calibration text, windows of the evaluation length.
void build_candidate(const CandidateResult& c, const CompressOptions& o, const Imatrix* imatrix,
                     const std::string& imatrix_path, int ctx) {
  QuantizeOptions qo;
  qo.preset = c.recipe;
  qo.show_progress = true;
  if (c.method != "gptq") {
    if (c.method == "imatrix") {
      qo.imatrix = imatrix;
      qo.imatrix_path = imatrix_path;
    }
    qo.method = c.method;
    quantize_model(o.model, c.file, qo);
    return;
  }
  CalibratedOptions co;
  co.method = "gptq";
  co.calib_files = o.calib;
  co.seqlen = ctx;
  // As many windows as the calibration token budget allows (128 at most, GPTQ's usual N).
  const int64_t tokens =
      o.calib_tokens > 0 ? o.calib_tokens * static_cast<int64_t>(o.calib.size()) : 128LL * ctx;
  co.samples = static_cast<int>(std::clamp<int64_t>(tokens / ctx, 8, 128));
  co.tokenizer = o.tokenizer;
  quantize_model_calibrated(o.model, c.file, qo, co);
}

}  // namespace

const std::vector<std::string>& default_recipes() {
  static const std::vector<std::string> r = {"q2_k",   "q3_k_m", "q4_0", "q4_k_m",
                                             "q5_k_m", "q6_k",   "q8_0"};
  return r;
}

CompressReport run_compress(const CompressOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  if (o.langs_dir.empty() && o.text.empty())
    throw UsageError("compress needs --langs DIR or --text FILE to validate");
  if (o.out_dir.empty()) throw UsageError("compress needs -o OUTDIR");
  if (!(o.criteria.max_ppl_increase_pct > 0))
    throw UsageError("--max-ppl-increase must be positive");
  if (o.criteria.min_tps < 0) throw UsageError("--min-tps must not be negative");
  if (o.context < 0) throw UsageError("--context must be positive");
  const std::vector<std::string> methods = candidate_methods(o);
  fs::create_directories(o.out_dir);
  // A run killed mid-write leaves "<file>.tmp-<pid>" behind (outputs are renamed into place only
  // when complete); clear them so they are not mistaken for results.
  for (const auto& e : fs::directory_iterator(o.out_dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) fs::remove(e.path());
  StageCache stages(o.out_dir);

  CompressReport rep;
  rep.model = o.model;
  rep.max_ppl_increase_pct = o.criteria.max_ppl_increase_pct;
  rep.objective = objective_name(o.criteria.objective);
  rep.min_tps = o.criteria.min_tps;
  rep.target_size_bytes = o.criteria.target_size_bytes;
  rep.device = load_device(o.device, o.out_dir);
  const Model base_model = load_model(o.model);
  rep.architecture = base_model.config.architecture;
  rep.n_params = base_model.n_params();
  const int trained = base_model.config.max_context;
  const int context = resolve_context(o.context, trained);
  rep.context = context;
  EvalOptions eo;
  eo.ctx = resolve_context(o.eval_ctx, trained);
  eo.max_chunks = o.max_chunks;
  for (const auto& w : {context_warning(context, trained, "--context"),
                        context_warning(eo.ctx, trained, "--eval-ctx")})
    if (w) {
      std::fprintf(stderr, "edgefit: warning: %s\n", w->c_str());
      rep.warnings.push_back(*w);
    }
  std::fprintf(stderr,
               "edgefit compress: %s (%s, %.2f M params) for %s, context %d, objective %s, ΔPPL "
               "bound %.1f %%\n",
               o.model.c_str(), rep.architecture.c_str(), rep.n_params / 1e6,
               rep.device.name.c_str(), context, rep.objective.c_str(),
               o.criteria.max_ppl_increase_pct);

  // Phase 2 first (it is instant): the candidates' cost, from the types each preset would choose.
  const std::vector<std::string>& recipes = o.recipes.empty() ? default_recipes() : o.recipes;
  for (const auto& recipe : recipes) {
    QuantizeOptions qo;
    qo.preset = recipe;
    const QuantizePlan plan = plan_quantization(o.model, qo);
    std::vector<PlannedTensor> planned;
    CandidateResult c;
    c.recipe = recipe;
    for (const auto& t : plan.tensors) {
      uint64_t numel = 1;
      for (uint64_t e : t.ne) numel *= e;
      planned.push_back({t.name, static_cast<int64_t>(numel), t.to, t.bytes});
      c.tensor_bits.emplace_back(t.name, dtype_bits_per_weight(t.to));
    }
    c.cost = estimate_cost(base_model.config, planned, rep.device, context);
    for (const auto& method : methods) {  // same types and size, different rounding
      c.method = method;
      rep.candidates.push_back(c);
    }
  }
  std::stable_sort(rep.candidates.begin(), rep.candidates.end(), [](const auto& a, const auto& b) {
    return a.cost.file_bytes < b.cost.file_bytes;
  });
  const BuildPlan build =
      plan_builds(recipe_candidates(rep.candidates), o.criteria, rep.device, context);
  for (const auto& c : rep.candidates) {
    if (c.method != methods.front()) continue;  // one line per recipe: the methods share the cost
    const std::string why = rule_out_reason(recipe_candidates({c}).front(), o.criteria, rep.device);
    std::fprintf(stderr, "  plan %-7s %10s file, %10s at run time, %.2f bpw, ~%.1f tok/s%s%s\n",
                 c.recipe.c_str(), format_bytes(c.cost.file_bytes).c_str(),
                 format_bytes(c.cost.runtime_bytes).c_str(), c.cost.bits_per_weight,
                 c.cost.predicted_tps, why.empty() ? "" : "  ruled out: ", why.c_str());
    if (!why.empty())
      rep.warnings.push_back(c.recipe + " ruled out for " + rep.device.id + ": " + why);
  }
  if (!build.refusal.empty()) {  // the report says why too, then the one error line
    rep.decision = build.refusal;
    rep.elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    write_file_atomic(o.out_dir + "/report.json", report_to_json(rep).dump(2) + "\n");
    write_file_atomic(o.out_dir + "/report.html", report_to_html(rep));
    throw Error(build.refusal);
  }
  std::vector<size_t> order = build.order;
  if (o.evaluate_all)  // a fuller report: also what fits but misses the speed or size target
    for (size_t i = 0; i < rep.candidates.size(); ++i)
      if (rep.candidates[i].cost.fits() && std::find(order.begin(), order.end(), i) == order.end())
        order.push_back(i);

  // Phase 1: baseline quality per language.
  auto tok = load_model_tokenizer(o.model, o.tokenizer, base_model.config.vocab_size);
  const std::vector<std::string> texts = eval_files(o);
  std::vector<std::string> eval_inputs = texts;
  eval_inputs.push_back(o.model);
  const std::string base_key = StageCache::make_key(
      {"baseline", std::to_string(eo.ctx), std::to_string(eo.max_chunks)}, eval_inputs);
  Transformer base(base_model);
  EvalOutcome baseline;
  if (auto cached = stages.load("baseline", base_key)) {
    baseline = outcome_from(*cached);
    std::fprintf(stderr, "stage baseline: cached\n");
  } else {
    std::fprintf(stderr, "stage baseline: evaluating the full-precision model\n");
    baseline = evaluate(base, nullptr, *tok, o, eo);
    stages.save("baseline", base_key, outcome_json(baseline));
  }
  rep.baseline = baseline.overall;
  rep.baseline_languages = baseline.languages;

  // Phase 3 prerequisite: the importance matrix from calibration text.
  std::optional<Imatrix> imatrix;
  std::string imatrix_path;
  if (std::find(methods.begin(), methods.end(), "imatrix") != methods.end()) {
    imatrix_path = o.out_dir + "/imatrix.gguf";
    std::vector<std::string> inputs = o.calib;
    inputs.push_back(o.model);
    const std::string key = StageCache::make_key(
        {"imatrix", std::to_string(eo.ctx), std::to_string(o.calib_tokens)}, inputs);
    if (stages.load("imatrix", key) && fs::exists(imatrix_path)) {
      std::fprintf(stderr, "stage imatrix: cached\n");
    } else {
      std::fprintf(stderr,
                   "stage imatrix: collecting activation statistics from %zu calibration files\n",
                   o.calib.size());
      CalibrationOptions co;
      co.files = o.calib;
      co.ctx = eo.ctx;
      co.max_tokens_per_file = o.calib_tokens > 0 ? o.calib_tokens : 16384;
      write_imatrix_gguf(collect_imatrix(base_model, *tok, co), imatrix_path);
      stages.save("imatrix", key, json{{"file", imatrix_path}});
    }
    imatrix = read_imatrix(imatrix_path);
  }

  // Phases 3 and 4: quantize and validate the candidates in the plan's order (size and speed:
  // until the first within the bound; quality: all of them, since quality is measured).
  for (size_t i : order) {
    CandidateResult& c = rep.candidates[i];
    c.file = o.out_dir + "/" + c.recipe + (c.method == "gptq" ? "-gptq" : "") + ".gguf";
    std::vector<std::string> inputs = eval_inputs;
    inputs.insert(inputs.end(), o.calib.begin(), o.calib.end());
    const std::string stage = fs::path(c.file).stem().string();  // "q4_k_m", "q4_k_m-gptq"
    const std::string qkey = StageCache::make_key(
        {"quantize", c.recipe, c.method, std::to_string(eo.ctx), std::to_string(o.calib_tokens)},
        inputs);
    if (stages.load("quantize-" + stage, qkey) && fs::exists(c.file)) {
      std::fprintf(stderr, "stage quantize %s: cached\n", stage.c_str());
    } else {
      std::fprintf(stderr, "stage quantize %s\n", stage.c_str());
      build_candidate(c, o, imatrix ? &*imatrix : nullptr, imatrix_path, eo.ctx);
      stages.save("quantize-" + stage, qkey, json{{"file_bytes", fs::file_size(c.file)}});
    }
    c.cost.file_bytes = fs::file_size(c.file);  // the real size replaces the estimate
    const std::string ekey = StageCache::make_key(
        {"validate", stage, std::to_string(eo.ctx), std::to_string(eo.max_chunks)}, [&] {
          auto v = eval_inputs;
          v.push_back(c.file);
          return v;
        }());
    const Model qm = load_model(c.file);
    EvalOutcome outcome;
    if (auto cached = stages.load("validate-" + stage, ekey)) {
      outcome = outcome_from(*cached);
      std::fprintf(stderr, "stage validate %s: cached\n", stage.c_str());
    } else {
      std::fprintf(stderr, "stage validate %s: per-language PPL and KLD against the baseline\n",
                   stage.c_str());
      Transformer qt(qm);
      outcome = evaluate(qt, &base, *tok, o, eo);
      stages.save("validate-" + stage, ekey, outcome_json(outcome));
    }
    c.built = true;
    c.overall = outcome.overall;
    c.languages = outcome.languages;
    c.max_dppl_pct = -1e9;
    for (const auto& [lang, q] : c.languages) {
      const double pb = rep.baseline_languages[lang].ppl;
      c.max_dppl_pct = std::max(c.max_dppl_pct, 100.0 * (q.ppl / pb - 1));
    }
    if (o.measure_speed && rep.device.measured) c.measured_tps = measure_decode_tps(qm);
    std::fprintf(stderr, "  %s: mean KLD %.5f, worst ΔPPL %+.2f %%\n", stage.c_str(),
                 c.overall.kld_mean, c.max_dppl_pct);
    if (build.stop_at_first_within_bound && !o.evaluate_all &&
        c.max_dppl_pct <= o.criteria.max_ppl_increase_pct)
      break;
  }
  const RecipeChoice choice =
      choose_recipe(recipe_candidates(rep.candidates), o.criteria, rep.device);
  rep.chosen = choice.chosen;
  rep.runner_up = choice.runner_up;
  rep.decision = choice.reason;
  std::fprintf(stderr, "decision: %s\n", choice.reason.c_str());
  if (!choice.within_bound) rep.warnings.push_back(choice.reason);
  for (auto& w : chosen_recipe_warnings(rep)) rep.warnings.push_back(std::move(w));
  rep.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  write_file_atomic(o.out_dir + "/report.json", report_to_json(rep).dump(2) + "\n");
  write_file_atomic(o.out_dir + "/report.html", report_to_html(rep));
  return rep;
}

}  // namespace edgefit
