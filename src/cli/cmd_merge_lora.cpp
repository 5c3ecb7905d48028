// `edgefit merge-lora BASE.gguf --lora ADAPTER.gguf [--lora-scaled ADAPTER SCALE] -o OUT.gguf`:
// folds LoRA adapters into the base (W + s·B·A, s as llama.cpp scales it) and re-quantizes each
// adapted tensor to the base's own type, streamed tensor by tensor (train/merge_lora.h) — what
// llama.cpp's llama-export-lora does, but keeping the base's quantized recipe.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/lora_args.h"
#include "core/error.h"
#include "core/output_path.h"
#include "formats/model.h"
#include "train/merge_lora.h"

namespace edgefit::cli {
namespace {

struct MergeLoraOptions {
  std::string base;  // base GGUF
  std::string out;   // merged GGUF to write
  LoraArgs lora;     // adapters to fold in
};

void run_merge_lora(const MergeLoraOptions& o) {
  if (o.lora.files.empty() && o.lora.scaled.empty())
    throw UsageError("merge-lora needs --lora ADAPTER or --lora-scaled ADAPTER SCALE");
  std::vector<std::string> inputs = {o.base};
  for (const auto& f : o.lora.files) inputs.push_back(f);
  for (size_t i = 0; i < o.lora.scaled.size(); i += 2) inputs.push_back(o.lora.scaled[i]);
  check_output_not_input(o.out, inputs);
  const Model base = load_model(o.base);
  if (base.format != "gguf") throw UsageError("merge-lora needs a GGUF base model");
  const std::vector<LoraAdapter> adapters = load_lora_args(o.lora, base);
  const train::MergeStats st = train::merge_lora_gguf(o.base, adapters, o.out);
  std::printf("merged %d tensors (re-quantized to the base's types), copied %d -> %s (%.2f MiB)\n",
              st.merged, st.copied, o.out.c_str(), static_cast<double>(st.bytes) / (1 << 20));
}

}  // namespace

void add_merge_lora_command(CLI::App& app) {
  auto opts = std::make_shared<MergeLoraOptions>();
  CLI::App* cmd = app.add_subcommand(
      "merge-lora", "fold LoRA adapters into a GGUF base, re-quantized to the base's types");
  cmd->add_option("base", opts->base, "base GGUF the adapters were trained on")->required();
  cmd->add_option("-o,--output", opts->out, "merged GGUF to write")->required();
  add_lora_options(cmd, opts->lora);
  cmd->callback([opts] { run_merge_lora(*opts); });
}

}  // namespace edgefit::cli
