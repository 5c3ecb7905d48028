// `edgefit recover BASE --teacher ORIGINAL --data FILE… -o ADAPTER.gguf`: LoRA adapters trained on
// the frozen compressed BASE to win back what compression lost, by distillation from the
// uncompressed teacher on the fly (mixed with the LM loss by --kd-weight), on the calibration
// text with equal tokens per file (language) by default. Writes a llama.cpp adapter GGUF
// (`llama-perplexity -m BASE --lora ADAPTER.gguf`), with --peft DIR a PEFT folder, and with
// --merged OUT.gguf the base with the adapters folded in (train/merge_lora.h). The run itself is
// train/recover.h's, shared with a recipe's recovery step.
//
// Resumable: a checkpoint "<ADAPTER>.ckpt.safetensors" is written every --checkpoint-every steps
// and when --minutes runs out; rerunning the same command resumes from it and ends with the
// same adapter bytes as an uninterrupted run. The checkpoint is removed once the adapter exists.
#include <cstdio>
#include <string>
#include <vector>

#include "calib/calib_data.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/output_path.h"
#include "core/progress.h"
#include "eval/model_tokenizer.h"
#include "formats/model.h"
#include "train/recover.h"

namespace edgefit::cli {
namespace {

struct RecoverOptions {
  std::string base;               // compressed model (frozen)
  std::string teacher;            // uncompressed model
  std::vector<std::string> data;  // training text files (one per language, typically)
  std::string tokenizer;          // tokenizer override
  int ctx = 256;                  // tokens per window
  train::RecoverSettings run;     // the run: LoRA, schedule, loss, outputs (train/recover.h)
};

void run(RecoverOptions o) {
  train::RecoverSettings& s = o.run;
  if (s.lora.rank < 1) throw UsageError("--rank must be at least 1");
  if (o.ctx < 2) throw UsageError("--ctx must be at least 2");
  if (s.kd_weight < 0 || s.kd_weight > 1) throw UsageError("--kd-weight must be within 0 … 1");
  if (s.temperature <= 0) throw UsageError("--temperature must be positive");
  if (s.lr <= 0) throw UsageError("--lr must be positive");
  const Model base = load_model(o.base);
  if (!s.merged_path.empty()) {
    // Checked before training: the merged export rewrites the base GGUF's own tensors.
    if (base.format != "gguf") throw UsageError("--merged needs a GGUF base model");
    check_output_not_input(s.merged_path, {o.base, o.teacher, s.adapter_path});
  }
  const Model teacher_model = load_model(o.teacher);
  if (base.config.max_context > 0 && o.ctx > base.config.max_context)
    throw UsageError("--ctx must not exceed the model's context (" +
                     std::to_string(base.config.max_context) + ")");
  auto tok = load_model_tokenizer(o.base, o.tokenizer, base.config.vocab_size);
  CalibrationDraw draw;
  draw.files = o.data;
  draw.ctx = o.ctx;
  const CalibrationWindows cw = draw_calibration_windows(*tok, draw);
  s.teacher_name = o.teacher;
  for (const auto& f : o.data) s.data_description += " data=" + f;

  const train::RecoverResult r = train::recover_lora(base, teacher_model, cw.windows, s);
  if (!r.finished) {
    std::printf("recover: stopped after %s at step %lld of %lld; rerun to continue (%s)\n",
                format_duration(s.minutes * 60.0).c_str(), static_cast<long long>(r.next_step),
                static_cast<long long>(r.total_steps),
                (s.adapter_path + ".ckpt.safetensors").c_str());
    return;
  }
  std::printf("recover: %lld steps, %lld tokens this run in %s -> %s\n",
              static_cast<long long>(r.total_steps), static_cast<long long>(r.tokens),
              format_duration(r.seconds).c_str(), s.adapter_path.c_str());
  if (!s.merged_path.empty())
    std::printf(
        "recover: merged %d tensors into %s (re-quantized to the base's types, %d by GPTQ)\n",
        r.merged_tensors, s.merged_path.c_str(), r.gptq_tensors);
}

}  // namespace

void add_recover_command(CLI::App& app) {
  auto o = std::make_shared<RecoverOptions>();
  CLI::App* cmd = app.add_subcommand(
      "recover", "train LoRA adapters on a compressed model to recover its teacher's outputs");
  cmd->add_option("base", o->base, "compressed model (GGUF), kept frozen")->required();
  cmd->add_option("--teacher", o->teacher, "the uncompressed original")->required();
  cmd->add_option("--data", o->data, "training text files (equal tokens per file)")->required();
  cmd->add_option("-o,--output", o->run.adapter_path, "adapter GGUF to write")->required();
  cmd->add_option("--peft", o->run.peft_dir,
                  "also write the adapters as a PEFT folder (Hugging Face)");
  cmd->add_option("--merged", o->run.merged_path,
                  "also write the base with the adapters folded in, re-quantized to its types "
                  "(by GPTQ where the base was GPTQ-made)");
  cmd->add_flag(
      "--merge-rtn", [o](int64_t) { o->run.gptq_merge = false; },
      "round the merged export even where the base was GPTQ-made");
  cmd->add_option("--rank", o->run.lora.rank, "LoRA rank (default 16)");
  cmd->add_option("--alpha", o->run.lora.alpha, "LoRA alpha (default 32)");
  cmd->add_option("--targets", o->run.lora.targets,
                  "projections: q,k,v,o,gate,up,down (default all)")
      ->delimiter(',');
  cmd->add_option("--ctx", o->ctx, "tokens per training window (default 256)");
  cmd->add_option("--steps", o->run.steps, "optimizer steps, one window each (default: one pass)");
  cmd->add_option("--minutes", o->run.minutes, "stop after this long; rerun to continue");
  cmd->add_option("--lr", o->run.lr, "peak learning rate (default 1e-3)");
  cmd->add_option("--warmup", o->run.warmup, "warm-up steps (default 5 % of the steps)");
  cmd->add_option("--kd-weight", o->run.kd_weight, "share of the distillation loss (default 1)");
  cmd->add_option("--temperature", o->run.temperature, "distillation temperature (default 2)");
  cmd->add_option("--optim-bits", o->run.optim_bits,
                  "AdamW moments: 8 (block-wise quantized, default) or 32 (f32)")
      ->check(CLI::IsMember({8, 32}));
  cmd->add_option("--seed", o->run.seed, "data order and adapter initialisation seed (default 0)");
  cmd->add_option("--checkpoint-every", o->run.checkpoint_every, "steps between checkpoints (20)");
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer file or folder (default: the base's)");
  cmd->callback([o] {
    o->run.lora.seed = o->run.seed;
    run(*o);
  });
}

}  // namespace edgefit::cli
