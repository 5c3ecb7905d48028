#include "train/recover.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <span>

#include "core/error.h"
#include "core/progress.h"
#include "model/lora_adapter.h"
#include "solve/gptq.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/lora_gguf.h"
#include "train/lora_peft.h"
#include "train/merge_lora.h"
#include "train/teacher.h"
#include "train/train_loop.h"
#include "train/train_model.h"

namespace edgefit::train {
namespace {

void check_compatible(const Model& base, const Model& teacher) {
  const ArchConfig &b = base.config, &t = teacher.config;
  if (b.architecture != t.architecture || b.vocab_size != t.vocab_size || b.d_model != t.d_model ||
      b.n_layers != t.n_layers)
    throw Error("the teacher (" + t.architecture + ", " + std::to_string(t.n_layers) +
                    " layers, vocabulary " + std::to_string(t.vocab_size) +
                    ") is not the base model's original",
                teacher.path);
}

void check_settings(const RecoverSettings& s, const std::vector<std::vector<int32_t>>& windows) {
  if (s.adapter_path.empty()) throw Error("recover: no adapter path to write");
  if (s.lora.rank < 1) throw Error("LoRA rank must be at least 1");
  if (s.kd_weight < 0 || s.kd_weight > 1) throw Error("kd_weight must be within 0 … 1");
  if (s.temperature <= 0) throw Error("the distillation temperature must be positive");
  if (s.lr <= 0) throw Error("the learning rate must be positive");
  if (s.optim_bits != 32 && s.optim_bits != 8) throw Error("optimizer state bits must be 32 or 8");
  if (windows.empty()) throw Error("recover: no training windows");
  for (const auto& w : windows)
    if (w.size() != windows.front().size() || w.size() < 2)
      throw Error("recover: training windows must share one length of at least 2 tokens");
}

// Everything the steps depend on, stored in the checkpoint so a resume with other settings is
// refused instead of silently mixing two runs.
std::string run_description(const RecoverSettings& s, const std::vector<std::vector<int32_t>>& w) {
  std::string d = "recover v2 rank=" + std::to_string(s.lora.rank) +
                  " alpha=" + std::to_string(s.lora.alpha) + " targets=";
  for (const auto& t : s.lora.targets) d += t + ",";
  d += " ctx=" + std::to_string(w.front().size()) + " steps=" + std::to_string(s.steps) +
       " lr=" + std::to_string(s.lr) + " warmup=" + std::to_string(s.warmup) +
       " kd=" + std::to_string(s.kd_weight) + " T=" + std::to_string(s.temperature) +
       " seed=" + std::to_string(s.seed) + " init=" + std::to_string(s.lora.seed) +
       " optim_bits=" + std::to_string(s.optim_bits) + " windows=" + std::to_string(w.size()) +
       " " + s.data_description;
  return d;
}

// Progress lines (every 2 s and at the end) and the wall-clock budget, as run_steps' report.
class StepReporter {
 public:
  StepReporter(const RecoverSettings& s, int64_t first) : s_(s), first_(first) {}

  bool operator()(const StepReport& r) {
    tokens_ += r.tokens;
    loss_sum_ += r.loss;
    ++loss_count_;
    const auto now = std::chrono::steady_clock::now();
    const double secs = seconds();
    const bool done = r.step + 1 == s_.steps;
    if (s_.progress && (done || std::chrono::duration<double>(now - last_line_).count() >= 2.0)) {
      const double per_step = secs / static_cast<double>(r.step + 1 - first_);
      std::fprintf(stderr, "recover: step %lld/%lld  loss %.5f  lr %.2e  %.0f tok/s  ETA %s\n",
                   static_cast<long long>(r.step + 1), static_cast<long long>(s_.steps),
                   loss_sum_ / static_cast<double>(loss_count_), r.lr,
                   static_cast<double>(tokens_) / secs,
                   format_duration(per_step * static_cast<double>(s_.steps - r.step - 1)).c_str());
      loss_sum_ = 0;
      loss_count_ = 0;
      last_line_ = now;
    }
    return s_.minutes <= 0 || secs < s_.minutes * 60.0;
  }

  int64_t tokens() const { return tokens_; }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  const RecoverSettings& s_;  // steps, budget, progress switch
  int64_t first_;             // first step of this run (for the ETA)
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_line_ = start_;  // when the last line was printed
  int64_t tokens_ = 0;                                        // tokens trained on so far
  double loss_sum_ = 0;                                       // losses since the last line
  int64_t loss_count_ = 0;                                    // steps since the last line
};

// H = 2·XᵀX/n of every adapted linear layer's input in `student` (base + trained adapters, i.e.
// the merged model before rounding) over the first `max_windows` windows, by weight name.
std::map<std::string, std::vector<float>> adapted_hessians(
    TrainModel& student, const std::vector<std::vector<int32_t>>& windows, int64_t max_windows) {
  std::map<std::string, HessianAccumulator> acc;
  student.set_block_observer([&](int layer, const TrainModel::BlockInputs& a) {
    const std::string p = "blk." + std::to_string(layer) + ".";
    const std::pair<const char*, std::span<const float>> inputs[] = {
        {"attn_q", a.xn1},   {"attn_k", a.xn1}, {"attn_v", a.xn1},  {"attn_output", a.att},
        {"ffn_gate", a.xn2}, {"ffn_up", a.xn2}, {"ffn_down", a.act}};
    for (const auto& [name, x] : inputs) {
      const int64_t width = static_cast<int64_t>(x.size()) / a.n;
      auto it = acc.try_emplace(p + name + ".weight", width).first;
      it->second.add(x.data(), a.n);
    }
  });
  const int64_t n = std::min<int64_t>(max_windows, static_cast<int64_t>(windows.size()));
  for (int64_t i = 0; i < n; ++i) student.loss(windows[static_cast<size_t>(i)], LossSpec{});
  student.set_block_observer({});
  std::map<std::string, std::vector<float>> out;
  for (auto& [name, h] : acc) out.emplace(name, h.finalize());
  return out;
}

}  // namespace

RecoverResult recover_lora(const Model& base, const Model& teacher_model,
                           const std::vector<std::vector<int32_t>>& windows, RecoverSettings s) {
  check_settings(s, windows);
  check_compatible(base, teacher_model);
  const int64_t n_windows = static_cast<int64_t>(windows.size());
  if (s.steps <= 0) s.steps = n_windows;
  if (s.warmup < 0) s.warmup = s.steps / 20;

  TrainModel student(base, s.lora);
  Teacher teacher(teacher_model);
  AdamW opt(AdamWConfig{0.9, 0.999, 1e-8, 0.0, s.optim_bits});
  TrainLoopConfig cfg;
  cfg.schedule = {s.lr, s.lr * 0.1, s.warmup, s.steps};
  cfg.seed = s.seed;
  cfg.teacher = &teacher;
  cfg.temperature = s.temperature;
  cfg.kd_weight = s.kd_weight;
  cfg.checkpoint_path = s.adapter_path + ".ckpt.safetensors";
  cfg.checkpoint_every = s.checkpoint_every;
  cfg.run = run_description(s, windows);

  RecoverResult result;
  result.total_steps = s.steps;
  if (std::filesystem::exists(cfg.checkpoint_path)) {
    if (checkpoint_run(cfg.checkpoint_path) != cfg.run)
      throw Error("checkpoint was made with other settings; delete it to start over",
                  cfg.checkpoint_path);
    result.first_step = load_checkpoint(cfg.checkpoint_path, student.params(), opt);
    if (s.progress)
      std::fprintf(stderr, "recover: resuming at step %lld of %lld\n",
                   static_cast<long long>(result.first_step), static_cast<long long>(s.steps));
  }
  if (s.progress)
    std::fprintf(stderr, "recover: %lld windows of %zu tokens, rank %d, %lld steps\n",
                 static_cast<long long>(n_windows), windows.front().size(), s.lora.rank,
                 static_cast<long long>(s.steps));

  StepReporter reporter(s, result.first_step);
  result.next_step = run_steps(student, opt, windows, cfg, result.first_step, s.steps,
                               [&](const StepReport& r) { return reporter(r); });
  result.tokens = reporter.tokens();
  result.seconds = reporter.seconds();
  result.finished = result.next_step >= s.steps;
  if (!result.finished) return result;

  write_lora_gguf(s.adapter_path, student.params(), base.config, s.lora.alpha);
  if (!s.peft_dir.empty())
    write_lora_peft(s.peft_dir, student.params(), base.config, s.lora, s.teacher_name);
  std::filesystem::remove(cfg.checkpoint_path);
  if (!s.merged_path.empty()) {
    const std::vector<edgefit::LoraAdapter> adapters = {
        load_lora_adapter(s.adapter_path, base, 1.0f)};
    GptqMerge gptq;
    const bool use_gptq = s.gptq_merge && gguf_is_gptq(base.path, &gptq.options);
    if (use_gptq) gptq.hessians = adapted_hessians(student, windows, s.hessian_windows);
    const MergeStats st =
        merge_lora_gguf(base.path, adapters, s.merged_path, use_gptq ? &gptq : nullptr);
    result.merged_tensors = st.merged;
    result.gptq_tensors = st.gptq;
  }
  return result;
}

}  // namespace edgefit::train
