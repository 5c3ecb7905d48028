// `edgefit eval MODEL --text FILE [--ctx N] [--base BASE] [--lang-dir DIR] [--json]
// [--max-chunks N] [--tokenizer PATH] [--lora ADAPTER] [--lora-scaled ADAPTER SCALE]`: perplexity
// with llama.cpp's protocol, optionally the KL-divergence from a BASE model run side by side, and a
// per-language table from a directory of text files (file stem = language). The window defaults to
// min(512, the model's trained context); a longer explicit one runs with a warning
// (eval/context_window.h).
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/lora_args.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "eval/context_window.h"
#include "eval/language_table.h"
#include "eval/model_tokenizer.h"
#include "eval/perplexity.h"
#include "formats/model.h"
#include "model/transformer.h"

namespace edgefit::cli {
namespace {

struct EvalCommandOptions {
  std::string model;       // model to evaluate
  std::string text;        // text file (optional when lang_dir is given)
  std::string base;        // reference model for KLD (optional)
  std::string lang_dir;    // directory of per-language text files (optional)
  std::string tokenizer;   // tokenizer override (optional)
  int ctx = 0;             // window length (0: min(512, trained context))
  int64_t max_chunks = 0;  // windows per text (0 = all)
  bool json = false;       // one JSON object on stdout
  LoraArgs lora;           // adapters applied on the model (not on --base)
};

// NaN/inf are not JSON: they become null.
nlohmann::ordered_json num(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json result_json(const EvalResult& r) {
  nlohmann::ordered_json j;
  j["ppl"] = num(r.model.ppl());
  j["ppl_stderr"] = num(r.model.ppl_stderr());
  j["n_tokens"] = r.model.count;
  j["n_chunks"] = r.n_chunks;
  if (r.base) {
    j["base_ppl"] = num(r.base->ppl());
    j["delta_ppl_pct"] = num(delta_ppl_percent(r));
  }
  if (r.kld) {
    j["kld_mean"] = num(r.kld->mean());
    j["kld_median"] = num(r.kld->quantile(0.5));
    j["kld_p99"] = num(r.kld->quantile(0.99));
    j["top1_agreement"] = num(r.kld->top1_agreement());
    j["mean_abs_dp"] = num(r.kld->mean_abs_dp());
  }
  return j;
}

void print_result(const std::string& what, const EvalResult& r) {
  std::printf("%s: %lld tokens scored in %lld windows\n", what.c_str(),
              static_cast<long long>(r.model.count), static_cast<long long>(r.n_chunks));
  std::printf("  PPL = %.4f +/- %.5f\n", r.model.ppl(), r.model.ppl_stderr());
  if (r.base)
    std::printf("  base PPL = %.4f +/- %.5f (%+.3f %%)\n", r.base->ppl(), r.base->ppl_stderr(),
                delta_ppl_percent(r));
  if (r.kld)
    std::printf("  KLD mean %.6f, median %.6f, p99 %.6f; top-1 agreement %.2f %%; mean |dp| %.5f\n",
                r.kld->mean(), r.kld->quantile(0.5), r.kld->quantile(0.99),
                100.0 * r.kld->top1_agreement(), r.kld->mean_abs_dp());
}

void run_eval(const EvalCommandOptions& o) {
  if (o.text.empty() && o.lang_dir.empty())
    throw UsageError("eval needs --text FILE or --lang-dir DIR");
  if (o.ctx != 0 && o.ctx < 4) throw UsageError("--ctx must be at least 4");
  Model model = load_model(o.model);
  const int ctx = resolve_context(o.ctx, model.config.max_context);
  if (auto w = context_warning(ctx, model.config.max_context, "--ctx"))
    std::fprintf(stderr, "edgefit: warning: %s\n", w->c_str());
  Transformer tf(model);
  tf.repack_weights();  // inference only: faster kernels where they pay, same results
  const std::vector<LoraAdapter> adapters = attach_lora_args(o.lora, model, tf);
  std::optional<Model> base_model;
  std::unique_ptr<Transformer> base;
  if (!o.base.empty()) {
    base_model.emplace(load_model(o.base));
    base = std::make_unique<Transformer>(*base_model);
    check_comparable(tf, *base, o.base);
  }
  const auto tok = load_model_tokenizer(o.model, o.tokenizer, tf.vocab_size());
  EvalOptions opt;
  opt.ctx = ctx;
  opt.max_chunks = o.max_chunks;

  std::optional<EvalResult> text_result;
  if (!o.text.empty()) {
    opt.label = o.text;
    text_result = evaluate_text(tf, base.get(), *tok, read_file(o.text), o.text, opt);
  }
  std::optional<LanguageTable> table;
  if (!o.lang_dir.empty()) table = evaluate_languages(tf, base.get(), *tok, o.lang_dir, opt);

  if (o.json) {
    // Top level: the --text result, or all languages pooled when only --lang-dir was given.
    nlohmann::ordered_json j = result_json(text_result ? *text_result : table->pooled);
    j["model"] = o.model;
    if (!o.base.empty()) j["base"] = o.base;
    j["ctx"] = ctx;
    if (table) {
      nlohmann::ordered_json langs = nlohmann::ordered_json::object();
      for (const auto& row : table->rows) langs[row.language] = result_json(row.result);
      j["languages"] = langs;
      j["worst_language"] = table->worst >= 0 ? table->rows[table->worst].language : "";
    }
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  if (text_result) print_result(o.text, *text_result);
  if (table) {
    if (text_result) std::printf("\n");
    std::printf("per language (%s, ctx %d):\n%s", o.lang_dir.c_str(), ctx,
                format_language_table(*table).c_str());
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto opts = std::make_shared<EvalCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "perplexity (llama.cpp protocol), KL-divergence from a base model, per-language table");
  cmd->add_option("model", opts->model, "GGUF file, Hugging Face folder or llama2.c .bin")
      ->required();
  cmd->add_option("--text", opts->text, "text file to score");
  cmd->add_option("--ctx", opts->ctx,
                  "window length in tokens (default min(512, the model's trained context))");
  cmd->add_option("--base", opts->base, "reference model for KL-divergence (same vocabulary)");
  cmd->add_option("--lang-dir", opts->lang_dir,
                  "directory of per-language text files (stem = language)");
  cmd->add_option("--max-chunks", opts->max_chunks, "evaluate at most N windows per text");
  cmd->add_option("--tokenizer", opts->tokenizer,
                  "tokenizer file/folder (default: the model's own)");
  cmd->add_flag("--json", opts->json, "print one JSON object");
  add_lora_options(cmd, opts->lora);
  cmd->callback([opts] { run_eval(*opts); });
}

}  // namespace edgefit::cli
