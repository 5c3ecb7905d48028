#include "train/train_loop.h"

#include <algorithm>

#include "core/error.h"
#include "train/checkpoint.h"
#include "train/data_order.h"
#include "train/grad_clip.h"

namespace edgefit::train {

int64_t run_steps(TrainModel& model, AdamW& opt, const std::vector<std::vector<int32_t>>& examples,
                  const TrainLoopConfig& cfg, int64_t first, int64_t last,
                  const std::function<bool(const StepReport&)>& report) {
  if (examples.empty()) throw Error("no training examples");
  const DataOrder order(static_cast<int64_t>(examples.size()), cfg.seed);
  model.set_block_input_spacing(cfg.block_input_spacing);
  for (int64_t step = first; step < last; ++step) {
    const std::vector<int32_t>& ids = examples[static_cast<size_t>(order.at(step))];
    StepReport r;
    r.step = step;
    r.tokens = static_cast<int64_t>(ids.size());
    model.params().release_grads();  // sized block by block by the backward (parameters.h)
    LossSpec loss;
    std::vector<float> teacher_logits;
    if (cfg.teacher) {
      teacher_logits = cfg.teacher->logits(ids);
      loss = {teacher_logits.data(), cfg.temperature, cfg.kd_weight};
    }
    r.loss = model.forward_backward(ids, loss, cfg.recompute_blocks);
    r.grad_norm = cfg.clip_norm > 0 ? clip_grad_norm(model.params(), cfg.clip_norm) : 0.0;
    r.lr = learning_rate(cfg.schedule, step);
    opt.step(model.params(), r.lr);
    const bool checkpoints = !cfg.checkpoint_path.empty() && cfg.checkpoint_every > 0;
    const bool due = checkpoints && ((step + 1) % cfg.checkpoint_every == 0 || step + 1 == last);
    if (due) save_checkpoint(cfg.checkpoint_path, model.params(), opt, step + 1, cfg.run);
    if (report && !report(r)) {
      if (checkpoints && !due)
        save_checkpoint(cfg.checkpoint_path, model.params(), opt, step + 1, cfg.run);
      return step + 1;
    }
  }
  return std::max(first, last);
}

}  // namespace edgefit::train
