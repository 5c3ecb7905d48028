// `edgefit imatrix MODEL --calib FILE... -o imatrix.gguf [--weights 1,1,…] [--ctx N]`: per-input-
// channel mean squared activations of every linear layer over calibration text, for the
// importance-weighted quantizers (`edgefit quantize --imatrix`). Chunks default to min(512, the
// model's trained context) tokens; a longer explicit --ctx runs with a warning.
#include <cstdio>

#include "calib/imatrix_collect.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/output_path.h"
#include "eval/context_window.h"
#include "eval/model_tokenizer.h"
#include "methods/imatrix_file.h"

namespace edgefit::cli {
namespace {

struct ImatrixOptions {
  std::string model;         // model path
  std::string out;           // output imatrix (.gguf, or .dat for llama.cpp's legacy format)
  std::string tokenizer;     // tokenizer override
  CalibrationOptions calib;  // files, weights, ctx, token cap
};

void run(ImatrixOptions o) {
  if (o.calib.ctx != 0 && o.calib.ctx < 2) throw UsageError("--ctx must be at least 2");
  std::vector<std::string> inputs = {o.model, o.tokenizer};
  inputs.insert(inputs.end(), o.calib.files.begin(), o.calib.files.end());
  check_output_not_input(o.out, inputs);
  const Model m = load_model(o.model);
  auto tok = load_model_tokenizer(o.model, o.tokenizer, m.config.vocab_size);
  o.calib.ctx = resolve_context(o.calib.ctx, m.config.max_context);
  if (auto w = context_warning(o.calib.ctx, m.config.max_context, "--ctx"))
    std::fprintf(stderr, "edgefit: warning: %s\n", w->c_str());
  const Imatrix im = collect_imatrix(m, *tok, o.calib);
  if (o.out.ends_with(".dat"))
    write_imatrix_dat(im, o.out);
  else
    write_imatrix_gguf(im, o.out);
  std::printf(
      "imatrix: %zu tensors from %llu chunks of %llu tokens (%s) -> %s\n", im.entries.size(),
      static_cast<unsigned long long>(im.chunk_count),
      static_cast<unsigned long long>(im.chunk_size),
      [&] {
        std::string s;
        for (const auto& d : im.datasets) s += (s.empty() ? "" : ", ") + d;
        return s;
      }()
          .c_str(),
      o.out.c_str());
}

}  // namespace

void add_imatrix_command(CLI::App& app) {
  auto o = std::make_shared<ImatrixOptions>();
  o->calib.ctx = 0;  // resolved against the model in run()
  CLI::App* cmd =
      app.add_subcommand("imatrix", "collect an importance matrix from calibration text");
  cmd->add_option("model", o->model, "GGUF, Hugging Face folder or llama2.c .bin")->required();
  cmd->add_option("--calib", o->calib.files, "calibration text files (e.g. one per language)")
      ->required();
  cmd->add_option("--weights", o->calib.weights, "relative token share per file (default equal)")
      ->delimiter(',');
  cmd->add_option("--ctx", o->calib.ctx,
                  "tokens per chunk (default min(512, the model's trained context))");
  cmd->add_option("--max-tokens", o->calib.max_tokens_per_file,
                  "tokens per file at most (default: the shortest file's)");
  cmd->add_option("-o,--output", o->out, "output file (.gguf; .dat for llama.cpp's legacy format)")
      ->required();
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer file or folder (default: the model's)");
  cmd->callback([o] { run(*o); });
}

}  // namespace edgefit::cli
