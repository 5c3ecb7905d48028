// `edgefit imatrix MODEL --calib FILE... -o imatrix.gguf [--weights 1,1,…] [--ctx N]`: per-input-
// channel mean squared activations of every linear layer over calibration text, for the
// importance-weighted quantizers (`edgefit quantize --imatrix`).
#include <cstdio>

#include "calib/imatrix_collect.h"
#include "cli/commands.h"
#include "core/error.h"
#include "eval/model_tokenizer.h"
#include "methods/imatrix_file.h"

namespace edgefit::cli {
namespace {

struct ImatrixOptions {
  std::string model;              // model path
  std::string out;                // output imatrix (.gguf, or .dat for llama.cpp's legacy format)
  std::string tokenizer;          // tokenizer override
  CalibrationOptions calib;       // files, weights, ctx, token cap
};

void run(ImatrixOptions o) {
  const Model m = load_model(o.model);
  auto tok = load_model_tokenizer(o.model, o.tokenizer, m.config.vocab_size);
  if (o.calib.ctx <= 1 || (m.config.max_context > 0 && o.calib.ctx > m.config.max_context))
    throw UsageError("--ctx must be between 2 and the model's context (" + std::to_string(m.config.max_context) + ")");
  const Imatrix im = collect_imatrix(m, *tok, o.calib);
  if (o.out.ends_with(".dat")) write_imatrix_dat(im, o.out);
  else write_imatrix_gguf(im, o.out);
  std::printf("imatrix: %zu tensors from %llu chunks of %llu tokens (%s) -> %s\n", im.entries.size(),
              static_cast<unsigned long long>(im.chunk_count), static_cast<unsigned long long>(im.chunk_size),
              [&] { std::string s; for (const auto& d : im.datasets) s += (s.empty() ? "" : ", ") + d; return s; }().c_str(),
              o.out.c_str());
}

}  // namespace

void add_imatrix_command(CLI::App& app) {
  auto o = std::make_shared<ImatrixOptions>();
  o->calib.ctx = 512;
  CLI::App* cmd = app.add_subcommand("imatrix", "collect an importance matrix from calibration text");
  cmd->add_option("model", o->model, "GGUF, Hugging Face folder or llama2.c .bin")->required();
  cmd->add_option("--calib", o->calib.files, "calibration text files (e.g. one per language)")->required();
  cmd->add_option("--weights", o->calib.weights, "relative token share per file (default equal)")->delimiter(',');
  cmd->add_option("--ctx", o->calib.ctx, "tokens per chunk (default 512)");
  cmd->add_option("--max-tokens", o->calib.max_tokens_per_file, "tokens per file at most (default: the shortest file's)");
  cmd->add_option("-o,--output", o->out, "output file (.gguf; .dat for llama.cpp's legacy format)")->required();
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer file or folder (default: the model's)");
  cmd->callback([o] { run(*o); });
}

}  // namespace edgefit::cli
