// `edgefit synth --like tinyllama-1.1b|llama-3.2-1b|qwen2.5-0.5b|llama-2-7b --type q4_0 OUT.gguf`:
// a random-weight model of a real shape, for speed and memory measurements (methods/synth_model.h).
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "methods/synth_model.h"
#include "plan/cost_model.h"

namespace edgefit::cli {

void add_synth_command(CLI::App& app) {
  auto o = std::make_shared<SynthOptions>();
  auto out = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("synth", "write a random-weight GGUF with the shapes of a real model");
  cmd->add_option("output", *out, "output .gguf")->required();
  cmd->add_option("--like", o->like, "tinyllama-1.1b, llama-3.2-1b, qwen2.5-0.5b or llama-2-7b");
  cmd->add_option("--type", o->type, "quantization preset (q4_0, q4_k_m, q8_0, f16, …)");
  cmd->add_option("--layers", o->n_layers, "fewer layers than the real model (for quick tests)");
  cmd->add_option("--seed", o->seed, "random seed");
  cmd->add_option(
      "--sparsity", o->sparsity,
      "prune the blocks' matmuls by magnitude and store them sparse: 2:4 (q4_2of4), "
      "0.5 (q4_mask50) or a fraction up to 1 (q4_qmask62, at most 12 of every 32 kept)");
  cmd->add_option("--sparse-type", o->sparse_type,
                  "store a --sparsity fraction as q4_mask50, q4_mask62 or q4_qmask62 instead");
  cmd->callback([o, out] {
    const uint64_t bytes = write_synth_model(*out, *o);
    std::string type = o->type;
    if (!o->sparsity.empty()) {
      const SynthSparsity s = synth_sparse_type(o->sparsity, o->sparse_type);
      type += ", block matmuls " + std::string(dtype_name(s.type)) + " (" +
              std::to_string(s.kept_per_block) + " of 256 kept)";
    }
    std::printf("%s: %s-shaped, %s, %s\n", out->c_str(), o->like.c_str(), type.c_str(),
                format_bytes(bytes).c_str());
  });
}

}  // namespace edgefit::cli
