// `edgefit prune MODEL OUT --structured SPEC [--calib F…]`: this branch's minimal prune command.
// It only registers the structured options (prune_structured.h); the unstructured methods
// (--method, --sparsity) come with the full command that replaces this file.
#include <memory>

#include "cli/commands.h"
#include "cli/prune_structured.h"
#include "core/error.h"

namespace edgefit::cli {
namespace {

struct PruneOptions {
  std::string model;              // input model
  std::string out;                // output GGUF, or Hugging Face folder
  StructuredPruneCli structured;  // --structured and its flags
};

}  // namespace

void add_prune_command(CLI::App& app) {
  auto o = std::make_shared<PruneOptions>();
  CLI::App* cmd = app.add_subcommand("prune", "remove weights, heads, channels or layers");
  cmd->add_option("model", o->model, "GGUF or Hugging Face folder")->required();
  cmd->add_option("out", o->out, "output GGUF (a folder, or a path ending in '/': HF folder)")
      ->required();
  add_structured_prune_options(*cmd, o->structured);
  cmd->callback([o] {
    if (!o->structured.requested())
      throw UsageError("prune: give --structured SPEC (or --keep FILE)");
    run_structured_prune(o->structured, o->model, o->out);
  });
}

}  // namespace edgefit::cli
