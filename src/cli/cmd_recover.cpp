// `edgefit recover BASE --teacher ORIGINAL --data FILE… -o ADAPTER.gguf`: LoRA adapters trained on
// the frozen compressed BASE to win back what compression lost, by distillation from the
// uncompressed teacher on the fly (mixed with the LM loss by --kd-weight), on the calibration
// text with equal tokens per file (language) by default. Writes a llama.cpp adapter GGUF
// (`llama-perplexity -m BASE --lora ADAPTER.gguf`), with --peft DIR a PEFT folder, and with
// --merged OUT.gguf the base with the adapters folded in (train/merge_lora.h).
//
// Resumable: a checkpoint "<ADAPTER>.ckpt.safetensors" is written every --checkpoint-every steps
// and when --minutes runs out; rerunning the same command resumes from it and ends with the
// same adapter bytes as an uninterrupted run. The checkpoint is removed once the adapter exists.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "calib/calib_data.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/output_path.h"
#include "core/progress.h"
#include "eval/model_tokenizer.h"
#include "formats/model.h"
#include "model/lora_adapter.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/lora_gguf.h"
#include "train/lora_peft.h"
#include "train/merge_lora.h"
#include "train/teacher.h"
#include "train/train_loop.h"
#include "train/train_model.h"

namespace edgefit::cli {
namespace {

struct RecoverOptions {
  std::string base;               // compressed model (frozen)
  std::string teacher;            // uncompressed model
  std::vector<std::string> data;  // training text files (one per language, typically)
  std::string out;                // adapter GGUF
  std::string peft;               // also a PEFT folder ("": no)
  std::string merged;             // also the base with the adapters folded in ("": no)
  std::string tokenizer;          // tokenizer override
  train::LoraConfig lora;         // rank, alpha, targets, init seed
  int ctx = 256;                  // tokens per window
  int64_t steps = 0;              // optimizer steps (0: one pass over the windows)
  double minutes = 0;             // wall-clock budget (0: none); the run resumes later
  double lr = 1e-3;               // peak learning rate
  int64_t warmup = -1;            // warm-up steps (-1: 5 % of the steps)
  double kd_weight = 1.0;         // share of the distillation loss
  double temperature = 2.0;       // distillation temperature
  uint64_t seed = 0;              // data order
  int64_t checkpoint_every = 20;  // steps between checkpoints
};

void check_compatible(const Model& base, const Model& teacher) {
  const ArchConfig &b = base.config, &t = teacher.config;
  if (b.architecture != t.architecture || b.vocab_size != t.vocab_size || b.d_model != t.d_model ||
      b.n_layers != t.n_layers)
    throw Error("the teacher (" + t.architecture + ", " + std::to_string(t.n_layers) +
                    " layers, vocabulary " + std::to_string(t.vocab_size) +
                    ") is not the base model's original",
                teacher.path);
}

// Everything the steps depend on, stored in the checkpoint so a resume with other settings is
// refused instead of silently mixing two runs.
std::string run_description(const RecoverOptions& o, int64_t n_windows) {
  std::string s = "recover v1 rank=" + std::to_string(o.lora.rank) +
                  " alpha=" + std::to_string(o.lora.alpha) + " targets=";
  for (const auto& t : o.lora.targets) s += t + ",";
  s += " ctx=" + std::to_string(o.ctx) + " steps=" + std::to_string(o.steps) +
       " lr=" + std::to_string(o.lr) + " warmup=" + std::to_string(o.warmup) +
       " kd=" + std::to_string(o.kd_weight) + " T=" + std::to_string(o.temperature) +
       " seed=" + std::to_string(o.seed) + " windows=" + std::to_string(n_windows);
  for (const auto& f : o.data) s += " data=" + f;
  return s;
}

void run(RecoverOptions o) {
  if (o.lora.rank < 1) throw UsageError("--rank must be at least 1");
  if (o.ctx < 2) throw UsageError("--ctx must be at least 2");
  if (o.kd_weight < 0 || o.kd_weight > 1) throw UsageError("--kd-weight must be within 0 … 1");
  if (o.temperature <= 0) throw UsageError("--temperature must be positive");
  const Model base = load_model(o.base);
  if (!o.merged.empty()) {
    // Checked before training: the merged export rewrites the base GGUF's own tensors.
    if (base.format != "gguf") throw UsageError("--merged needs a GGUF base model");
    check_output_not_input(o.merged, {o.base, o.teacher, o.out});
  }
  const Model teacher_model = load_model(o.teacher);
  check_compatible(base, teacher_model);
  if (base.config.max_context > 0 && o.ctx > base.config.max_context)
    throw UsageError("--ctx must not exceed the model's context (" +
                     std::to_string(base.config.max_context) + ")");
  auto tok = load_model_tokenizer(o.base, o.tokenizer, base.config.vocab_size);
  CalibrationDraw draw;
  draw.files = o.data;
  draw.ctx = o.ctx;
  const CalibrationWindows cw = draw_calibration_windows(*tok, draw);
  const int64_t n_windows = static_cast<int64_t>(cw.windows.size());
  if (o.steps <= 0) o.steps = n_windows;
  if (o.warmup < 0) o.warmup = o.steps / 20;

  train::TrainModel student(base, o.lora);
  train::Teacher teacher(teacher_model);
  train::AdamW opt(train::AdamWConfig{0.9, 0.999, 1e-8, 0.0});
  train::TrainLoopConfig cfg;
  cfg.schedule = {o.lr, o.lr * 0.1, o.warmup, o.steps};
  cfg.seed = o.seed;
  cfg.teacher = &teacher;
  cfg.temperature = o.temperature;
  cfg.kd_weight = o.kd_weight;
  cfg.checkpoint_path = o.out + ".ckpt.safetensors";
  cfg.checkpoint_every = o.checkpoint_every;
  cfg.run = run_description(o, n_windows);

  int64_t first = 0;
  if (std::filesystem::exists(cfg.checkpoint_path)) {
    if (train::checkpoint_run(cfg.checkpoint_path) != cfg.run)
      throw Error("checkpoint was made with other settings; delete it to start over",
                  cfg.checkpoint_path);
    first = train::load_checkpoint(cfg.checkpoint_path, student.params(), opt);
    std::fprintf(stderr, "recover: resuming at step %lld of %lld\n", static_cast<long long>(first),
                 static_cast<long long>(o.steps));
  }
  std::fprintf(stderr, "recover: %lld windows of %d tokens from %zu files, rank %d, %lld steps\n",
               static_cast<long long>(n_windows), o.ctx, o.data.size(), o.lora.rank,
               static_cast<long long>(o.steps));

  const auto start = std::chrono::steady_clock::now();
  auto last_line = start;
  int64_t tokens = 0;
  double loss_sum = 0;
  int64_t loss_count = 0;
  auto report = [&](const train::StepReport& r) {
    tokens += r.tokens;
    loss_sum += r.loss;
    ++loss_count;
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - start).count();
    const bool done = r.step + 1 == o.steps;
    if (done || std::chrono::duration<double>(now - last_line).count() >= 2.0) {
      const double per_step = secs / static_cast<double>(r.step + 1 - first);
      std::fprintf(stderr, "recover: step %lld/%lld  loss %.5f  lr %.2e  %.0f tok/s  ETA %s\n",
                   static_cast<long long>(r.step + 1), static_cast<long long>(o.steps),
                   loss_sum / static_cast<double>(loss_count), r.lr,
                   static_cast<double>(tokens) / secs,
                   format_duration(per_step * static_cast<double>(o.steps - r.step - 1)).c_str());
      loss_sum = 0;
      loss_count = 0;
      last_line = now;
    }
    return o.minutes <= 0 || secs < o.minutes * 60.0;
  };
  const int64_t next = train::run_steps(student, opt, cw.windows, cfg, first, o.steps, report);
  if (next < o.steps) {
    std::printf("recover: stopped after %s at step %lld of %lld; rerun to continue (%s)\n",
                format_duration(o.minutes * 60.0).c_str(), static_cast<long long>(next),
                static_cast<long long>(o.steps), cfg.checkpoint_path.c_str());
    return;
  }
  train::write_lora_gguf(o.out, student.params(), base.config, o.lora.alpha);
  if (!o.peft.empty())
    train::write_lora_peft(o.peft, student.params(), base.config, o.lora, o.teacher);
  std::filesystem::remove(cfg.checkpoint_path);
  std::printf("recover: %lld steps, %lld tokens this run -> %s\n", static_cast<long long>(o.steps),
              static_cast<long long>(tokens), o.out.c_str());
  if (!o.merged.empty()) {
    const std::vector<edgefit::LoraAdapter> adapters = {load_lora_adapter(o.out, base, 1.0f)};
    const train::MergeStats st = train::merge_lora_gguf(o.base, adapters, o.merged);
    std::printf("recover: merged %d tensors into %s (re-quantized to the base's types)\n",
                st.merged, o.merged.c_str());
  }
}

}  // namespace

void add_recover_command(CLI::App& app) {
  auto o = std::make_shared<RecoverOptions>();
  CLI::App* cmd = app.add_subcommand(
      "recover", "train LoRA adapters on a compressed model to recover its teacher's outputs");
  cmd->add_option("base", o->base, "compressed model (GGUF), kept frozen")->required();
  cmd->add_option("--teacher", o->teacher, "the uncompressed original")->required();
  cmd->add_option("--data", o->data, "training text files (equal tokens per file)")->required();
  cmd->add_option("-o,--output", o->out, "adapter GGUF to write")->required();
  cmd->add_option("--peft", o->peft, "also write the adapters as a PEFT folder (Hugging Face)");
  cmd->add_option("--merged", o->merged,
                  "also write the base with the adapters folded in, re-quantized to its types");
  cmd->add_option("--rank", o->lora.rank, "LoRA rank (default 16)");
  cmd->add_option("--alpha", o->lora.alpha, "LoRA alpha (default 32)");
  cmd->add_option("--targets", o->lora.targets, "projections: q,k,v,o,gate,up,down (default all)")
      ->delimiter(',');
  cmd->add_option("--ctx", o->ctx, "tokens per training window (default 256)");
  cmd->add_option("--steps", o->steps, "optimizer steps, one window each (default: one pass)");
  cmd->add_option("--minutes", o->minutes, "stop after this long; rerun to continue");
  cmd->add_option("--lr", o->lr, "peak learning rate (default 1e-3)");
  cmd->add_option("--warmup", o->warmup, "warm-up steps (default 5 % of the steps)");
  cmd->add_option("--kd-weight", o->kd_weight, "share of the distillation loss (default 1)");
  cmd->add_option("--temperature", o->temperature, "distillation temperature (default 2)");
  cmd->add_option("--seed", o->seed, "data order and adapter initialisation seed (default 0)");
  cmd->add_option("--checkpoint-every", o->checkpoint_every, "steps between checkpoints (20)");
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer file or folder (default: the base's)");
  cmd->callback([o] {
    o->lora.seed = o->seed;
    run(*o);
  });
}

}  // namespace edgefit::cli
