#include "pipeline/compress.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "calib/imatrix_collect.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "eval/language_table.h"
#include "eval/model_tokenizer.h"
#include "methods/imatrix_file.h"
#include "methods/quantize_model.h"
#include "model/transformer.h"
#include "methods/quantize_recipe.h"
#include "pipeline/recipe_cost.h"
#include "pipeline/stage_cache.h"
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
  return {j[0].get<double>(), j[1].get<double>(), j[2].get<double>(), j[3].get<double>(), j[4].get<double>(),
          j[5].get<int64_t>()};
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
    for (auto it = j["languages"].begin(); it != j["languages"].end(); ++it) o.languages[it.key()] = quality_from(it.value());
  return o;
}

EvalOutcome evaluate(Transformer& model, Transformer* base, const Tokenizer& tok, const CompressOptions& o,
                     const EvalOptions& eo) {
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

// The recipes compress tries: the one from --recipe (checked against the model), or a preset
// recipe per name (with an imatrix when there is calibration text).
std::vector<Recipe> candidate_recipes(const CompressOptions& o, const Model& model) {
  const std::string method = o.calib.empty() ? "rtn" : "imatrix";
  if (o.recipe_file.empty()) {
    std::vector<Recipe> out;
    for (const auto& name : o.recipes.empty() ? default_recipes() : o.recipes)
      out.push_back(recipe_from_preset(name, method));
    return out;
  }
  if (!o.recipes.empty()) throw UsageError("--recipe and --recipes exclude each other");
  Recipe r = read_recipe(o.recipe_file);
  check_recipe_against_model(r, model, o.recipe_file);
  if (r.method.name != "rtn" && r.method.name != "imatrix")
    throw Error("method.name: compress runs rtn and imatrix recipes; quantize a '" + r.method.name +
                    "' recipe with `edgefit quantize --recipe`",
                o.recipe_file);
  if (r.method.name == "imatrix" && o.calib.empty())
    throw UsageError("the recipe's method is imatrix: give calibration text with --calib");
  if (r.method.name == "rtn" && !o.calib.empty())
    throw UsageError("the recipe's method is rtn: drop --calib (or make its method imatrix)");
  return {r};
}

}  // namespace

const std::vector<std::string>& default_recipes() {
  static const std::vector<std::string> r = {"q2_k", "q3_k_m", "q4_0", "q4_k_m", "q5_k_m", "q6_k", "q8_0"};
  return r;
}

CompressReport run_compress(const CompressOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  if (o.langs_dir.empty() && o.text.empty()) throw UsageError("compress needs --langs DIR or --text FILE to validate");
  if (o.out_dir.empty()) throw UsageError("compress needs -o OUTDIR");
  if (!(o.max_ppl_increase_pct > 0)) throw UsageError("--max-ppl-increase must be positive");
  fs::create_directories(o.out_dir);
  // A run killed mid-write leaves "<file>.tmp-<pid>" behind (outputs are renamed into place only
  // when complete); clear them so they are not mistaken for results.
  for (const auto& e : fs::directory_iterator(o.out_dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) fs::remove(e.path());
  StageCache stages(o.out_dir);

  CompressReport rep;
  rep.model = o.model;
  rep.context = o.context;
  rep.max_ppl_increase_pct = o.max_ppl_increase_pct;
  rep.device = load_device(o.device, o.out_dir);
  const Model base_model = load_model(o.model);
  rep.architecture = base_model.config.architecture;
  rep.n_params = base_model.n_params();
  EvalOptions eo;
  eo.ctx = o.eval_ctx > 0 ? o.eval_ctx : std::min(512, base_model.config.max_context > 0 ? base_model.config.max_context : 512);
  eo.max_chunks = o.max_chunks;
  std::fprintf(stderr, "edgefit compress: %s (%s, %.2f M params) for %s, context %d, ΔPPL bound %.1f %%\n",
               o.model.c_str(), rep.architecture.c_str(), rep.n_params / 1e6, rep.device.name.c_str(), o.context,
               o.max_ppl_increase_pct);

  // Phase 2 first (it is instant): the candidates' cost, from the types each recipe would choose.
  for (const Recipe& recipe : candidate_recipes(o, base_model)) {
    CandidateResult c;
    c.recipe = recipe.name;
    c.method = recipe.method.name;
    c.recipe_json = recipe_to_json(recipe);
    RecipeCost rc = recipe_cost(o.model, base_model.config, recipe, o.recipe_file, rep.device, o.context);
    c.cost = rc.cost;
    c.tensor_bits = std::move(rc.tensor_bits);
    rep.candidates.push_back(std::move(c));
  }
  std::stable_sort(rep.candidates.begin(), rep.candidates.end(),
                   [](const auto& a, const auto& b) { return a.cost.file_bytes < b.cost.file_bytes; });
  std::vector<size_t> fitting;
  for (size_t i = 0; i < rep.candidates.size(); ++i) {
    const auto& c = rep.candidates[i];
    std::fprintf(stderr, "  plan %-7s %10s file, %10s at run time, %.2f bpw, ~%.1f tok/s%s\n", c.recipe.c_str(),
                 format_bytes(c.cost.file_bytes).c_str(), format_bytes(c.cost.runtime_bytes).c_str(),
                 c.cost.bits_per_weight, c.cost.predicted_tps, c.cost.fits() ? "" : "  (does not fit)");
    if (c.cost.fits()) fitting.push_back(i);
    else
      rep.warnings.push_back(c.recipe + " does not fit " + rep.device.id + ": " +
                             (c.cost.fits_storage ? "" : "file " + format_bytes(c.cost.file_bytes) + " > storage " +
                                                             format_bytes(rep.device.storage_bytes) + "; ") +
                             (c.cost.fits_ram ? "" : "needs " + format_bytes(c.cost.runtime_bytes) + " RAM > " +
                                                         format_bytes(rep.device.ram_bytes)));
  }
  if (fitting.empty()) {
    const auto& s = rep.candidates.front();
    throw Error("no preset fits " + rep.device.id + " (" + format_bytes(rep.device.ram_bytes) + " RAM, " +
                format_bytes(rep.device.storage_bytes) + " storage) at context " + std::to_string(o.context) +
                ": the smallest achievable is " + s.recipe + " with a " + format_bytes(s.cost.file_bytes) +
                " file needing " + format_bytes(s.cost.runtime_bytes) + " of RAM");
  }

  // Phase 1: baseline quality per language.
  auto tok = load_model_tokenizer(o.model, o.tokenizer, base_model.config.vocab_size);
  const std::vector<std::string> texts = eval_files(o);
  std::vector<std::string> eval_inputs = texts;
  eval_inputs.push_back(o.model);
  const std::string base_key = StageCache::make_key({"baseline", std::to_string(eo.ctx), std::to_string(eo.max_chunks)}, eval_inputs);
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
  if (!o.calib.empty()) {
    imatrix_path = o.out_dir + "/imatrix.gguf";
    std::vector<std::string> inputs = o.calib;
    inputs.push_back(o.model);
    const std::string key = StageCache::make_key({"imatrix", std::to_string(eo.ctx), std::to_string(o.calib_tokens)}, inputs);
    const auto cached = stages.load("imatrix", key);
    if (cached && StageCache::output_intact(*cached, imatrix_path)) {
      std::fprintf(stderr, "stage imatrix: cached\n");
    } else {
      std::fprintf(stderr, "stage imatrix: collecting activation statistics from %zu calibration files\n", o.calib.size());
      CalibrationOptions co;
      co.files = o.calib;
      co.ctx = eo.ctx;
      co.max_tokens_per_file = o.calib_tokens > 0 ? o.calib_tokens : 16384;
      write_imatrix_gguf(collect_imatrix(base_model, *tok, co), imatrix_path);
      stages.save("imatrix", key, StageCache::output_record(imatrix_path));
    }
    imatrix = read_imatrix(imatrix_path);
  }

  // Phases 3 and 4: quantize and validate the fitting candidates, cheapest first, until one
  // keeps every language within the bound.
  for (size_t i : fitting) {
    CandidateResult& c = rep.candidates[i];
    c.file = o.out_dir + "/" + c.recipe + ".gguf";
    std::vector<std::string> inputs = eval_inputs;
    inputs.insert(inputs.end(), o.calib.begin(), o.calib.end());
    std::vector<std::string> qparts = {"quantize", c.recipe, c.method};
    if (!o.recipe_file.empty()) qparts.push_back(c.recipe_json.dump());  // the rules count too
    const std::string qkey = StageCache::make_key(qparts, inputs);
    const auto cached = stages.load("quantize-" + c.recipe, qkey);
    if (cached && StageCache::output_intact(*cached, c.file)) {  // a truncated file is redone
      std::fprintf(stderr, "stage quantize %s: cached\n", c.recipe.c_str());
    } else {
      std::fprintf(stderr, "stage quantize %s\n", c.recipe.c_str());
      QuantizeOptions qo = quantize_options_from_recipe(parse_recipe(c.recipe_json.dump(), o.recipe_file), o.recipe_file);
      qo.imatrix = imatrix ? &*imatrix : nullptr;
      qo.imatrix_path = imatrix_path;
      qo.method = c.method;
      qo.show_progress = true;
      quantize_model(o.model, c.file, qo);
      stages.save("quantize-" + c.recipe, qkey, StageCache::output_record(c.file));
    }
    c.cost.file_bytes = fs::file_size(c.file);  // the real size replaces the estimate
    const std::string ekey = StageCache::make_key({"validate", c.recipe, std::to_string(eo.ctx), std::to_string(eo.max_chunks)},
                                                  [&] { auto v = eval_inputs; v.push_back(c.file); return v; }());
    const Model qm = load_model(c.file);
    EvalOutcome outcome;
    if (auto cached = stages.load("validate-" + c.recipe, ekey)) {
      outcome = outcome_from(*cached);
      std::fprintf(stderr, "stage validate %s: cached\n", c.recipe.c_str());
    } else {
      std::fprintf(stderr, "stage validate %s: per-language PPL and KLD against the baseline\n", c.recipe.c_str());
      Transformer qt(qm);
      outcome = evaluate(qt, &base, *tok, o, eo);
      stages.save("validate-" + c.recipe, ekey, outcome_json(outcome));
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
    std::fprintf(stderr, "  %s: mean KLD %.5f, worst ΔPPL %+.2f %%\n", c.recipe.c_str(), c.overall.kld_mean, c.max_dppl_pct);
    if (c.max_dppl_pct <= o.max_ppl_increase_pct && rep.chosen < 0) {
      rep.chosen = static_cast<int>(i);  // the smallest within the bound
      if (!o.evaluate_all) break;
    }
  }
  if (rep.chosen < 0) {  // nothing met the bound: the best-quality candidate that fits
    for (size_t i : fitting)
      if (rep.candidates[i].built &&
          (rep.chosen < 0 || rep.candidates[i].max_dppl_pct < rep.candidates[static_cast<size_t>(rep.chosen)].max_dppl_pct))
        rep.chosen = static_cast<int>(i);
    const auto& c = rep.candidates[static_cast<size_t>(rep.chosen)];
    char buf[256];
    std::snprintf(buf, sizeof buf, "no recipe that fits keeps every language within +%.1f %%: chose %s (worst ΔPPL %+.2f %%)",
                  o.max_ppl_increase_pct, c.recipe.c_str(), c.max_dppl_pct);
    rep.warnings.push_back(buf);
  }

  // Warnings about the chosen recipe.
  const CandidateResult& ch = rep.candidates[static_cast<size_t>(rep.chosen)];
  {
    std::vector<std::string> low;
    for (const auto& [name, bits] : ch.tensor_bits)
      if (bits < 4.0 && name.find("norm") == std::string::npos) low.push_back(name);
    if (!low.empty()) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s stores %zu tensors below 4 bits per weight (e.g. %s): expect quality loss, "
                    "most in the languages the model knows least", ch.recipe.c_str(), low.size(), low.front().c_str());
      rep.warnings.push_back(buf);
    }
    double mean = 0;
    for (const auto& [lang, q] : ch.languages) mean += 100.0 * (q.ppl / rep.baseline_languages[lang].ppl - 1);
    mean /= std::max<size_t>(1, ch.languages.size());
    std::vector<std::pair<double, std::string>> worst;
    for (const auto& [lang, q] : ch.languages) {
      const double d = 100.0 * (q.ppl / rep.baseline_languages[lang].ppl - 1);
      if (d > o.max_ppl_increase_pct || (mean > 0 && d > 2 * mean)) worst.emplace_back(d, lang);
    }
    std::sort(worst.rbegin(), worst.rend());
    // Always name the three languages hurt most, so the multilingual risk is visible even
    // when every language is within the bound.
    std::vector<std::pair<double, std::string>> ranked;
    for (const auto& [lang, q] : ch.languages)
      ranked.emplace_back(100.0 * (q.ppl / rep.baseline_languages[lang].ppl - 1), lang);
    std::sort(ranked.rbegin(), ranked.rend());
    if (ranked.size() > 1) {
      std::string names;
      for (size_t k = 0; k < std::min<size_t>(3, ranked.size()); ++k) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s%s %+.2f %%", k ? ", " : "", ranked[k].second.c_str(), ranked[k].first);
        names += buf;
      }
      rep.warnings.push_back("languages that degrade most with " + ch.recipe + ": " + names);
    }
    for (const auto& [d, lang] : worst) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "language %s degrades most: ΔPPL %+.2f %% (%s; mean over languages %+.2f %%)",
                    lang.c_str(), d, d > o.max_ppl_increase_pct ? "over the bound" : "more than twice the mean", mean);
      rep.warnings.push_back(buf);
    }
  }
  rep.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  write_file_atomic(o.out_dir + "/report.json", report_to_json(rep).dump(2) + "\n");
  write_file_atomic(o.out_dir + "/report.html", report_to_html(rep));
  return rep;
}

}  // namespace edgefit
