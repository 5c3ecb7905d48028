#include "train/train_model.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "model/matmul.h"
#include "train/embedding.h"
#include "train/linear.h"
#include "train/losses.h"
#include "train/rms_norm.h"

namespace edgefit::train {
namespace {

// The model's RoPE, with a GGUF's rope_freqs.weight factors when present (as model/ does).
Rope make_rope(const Model& m) {
  std::vector<float> factors;
  if (const ModelTensor* t = m.find("rope_freqs.weight")) {
    factors.resize(static_cast<size_t>(m.config.head_dim / 2));
    if (t->view.numel() != static_cast<int64_t>(factors.size()))
      throw Error("rope_freqs.weight has the wrong size", t->source);
    const int64_t shape[1] = {t->view.numel()};
    dequantize_row(TensorView::contiguous(t->view.dtype, shape, t->view.data), 0, factors.data());
  }
  return Rope(m.config, std::move(factors));
}

Parameter* bind_matrix(ParameterSet& ps, const std::string& name, int64_t rows, int64_t cols) {
  Parameter& p = ps.get(name);
  if (p.shape != std::vector<int64_t>{rows, cols})
    throw Error("tensor '" + name + "' has an unexpected shape for this architecture");
  return &p;
}

}  // namespace

TrainModel::TrainModel(const Model& model)
    : cfg_(model.config), params_(ParameterSet::from_model(model)), rope_(make_rope(model)) {
  check_config(model);
  const ArchConfig& c = cfg_;
  tok_embd_ = bind_matrix(params_, "token_embd.weight", c.vocab_size, c.d_model);
  head_.weight = params_.find("output.weight")
                     ? bind_matrix(params_, "output.weight", c.vocab_size, c.d_model)
                     : tok_embd_;
  output_norm_ = &params_.get("output_norm.weight");
  if (static_cast<int64_t>(output_norm_->value.size()) != c.d_model)
    throw Error("tensor 'output_norm.weight' has the wrong size", model.path);
  for (int l = 0; l < c.n_layers; ++l) blocks_.push_back(bind_block(params_, c, l));
}

TrainModel::TrainModel(const Model& model, const LoraConfig& lora, MatmulChoice matmul)
    : cfg_(model.config),
      small_(ParameterSet::from_model(model,
                                      [](const ModelTensor& t) { return t.view.n_rows() == 1; })),
      rope_(make_rope(model)) {
  check_config(model);
  const ArchConfig& c = cfg_;
  frozen_embd_ = bind_frozen(model, "token_embd.weight", c.vocab_size, c.d_model);
  head_.frozen = model.find("output.weight")
                     ? bind_frozen(model, "output.weight", c.vocab_size, c.d_model)
                     : frozen_embd_;
  head_.product = matmul;
  output_norm_ = &small_.get("output_norm.weight");
  if (static_cast<int64_t>(output_norm_->value.size()) != c.d_model)
    throw Error("tensor 'output_norm.weight' has the wrong size", model.path);
  for (int l = 0; l < c.n_layers; ++l) {
    blocks_.push_back(bind_block_frozen(model, small_, c, l));
    for (auto& [name, layer] : block_linears(blocks_.back())) layer->product = matmul;
  }
  attach_lora(blocks_, params_, lora);
}

void TrainModel::check_config(const Model& model) const {
  const ArchConfig& c = cfg_;
  if (c.n_layers <= 0 || c.d_model <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.head_dim <= 0 ||
      c.head_dim % 2 != 0 || c.d_ff <= 0 || c.vocab_size <= 0 || c.n_heads % c.n_kv_heads != 0)
    throw Error("model hyperparameters are inconsistent", model.path);
  if (!c.uniform_widths())
    throw Error(
        "training needs the same widths in every layer; this model has per-layer widths "
        "(llama.cpp deci / structured pruning)",
        model.path);
}

void TrainModel::check_ids(std::span<const int32_t> ids) const {
  if (ids.size() < 2) throw Error("training needs sequences of at least 2 tokens");
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= cfg_.vocab_size)
      throw Error("token id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                  " is outside the vocabulary of " + std::to_string(cfg_.vocab_size));
}

void TrainModel::set_block_input_spacing(int k) {
  if (k < 1) throw Error("block input spacing must be at least 1, got " + std::to_string(k));
  block_input_spacing_ = k;
}

bool TrainModel::keeps_input(int64_t l, bool checkpoint) const {
  return !checkpoint || l % block_input_spacing_ == 0 || l >= cfg_.n_layers - 1;
}

void TrainModel::forward_blocks(std::span<const int32_t> ids, bool checkpoint) {
  const int64_t n = static_cast<int64_t>(ids.size()), d = cfg_.d_model, L = cfg_.n_layers;
  if (!rope_table_ || rope_table_->n_positions() != n)
    rope_table_ = std::make_unique<RopeTable>(rope_, n);
  xs_.resize(static_cast<size_t>(L + 1));
  acts_.resize(checkpoint ? 1 : static_cast<size_t>(L));
  xs_[0].resize(static_cast<size_t>(n * d));
  if (tok_embd_) {
    embedding_forward(tok_embd_->value.data(), ids.data(), n, d, xs_[0].data());
  } else {
    for (int64_t t = 0; t < n; ++t) dequantize_row(*frozen_embd_, ids[t], xs_[0].data() + t * d);
  }
  std::vector<float> xn1, att, xn2;  // the observer's recomputed inputs
  for (int64_t l = 0; l < L; ++l) {
    BlockActivations& a = acts_[checkpoint ? 0 : static_cast<size_t>(l)];
    const std::vector<float>& x = xs_[static_cast<size_t>(l)];
    xs_[static_cast<size_t>(l + 1)].resize(static_cast<size_t>(n * d));
    block_forward(cfg_, blocks_[l], *rope_table_, x.data(), n, a, xs_[l + 1].data());
    if (observer_) {
      block_linear_inputs(cfg_, blocks_[l], *rope_table_, x.data(), a, xn1, att, xn2);
      const std::span<const float> act(a.act.data(), static_cast<size_t>(n * cfg_.d_ff));
      observer_(static_cast<int>(l), BlockInputs{n, xn1, att, xn2, act});
    }
    // An input not kept is recomputed from the kept one below it in the backward.
    if (!keeps_input(l, checkpoint)) std::vector<float>().swap(xs_[static_cast<size_t>(l)]);
  }
}

void TrainModel::recompute_input(int64_t l, int64_t n) {
  int64_t s = l;
  while (xs_[static_cast<size_t>(s)].empty()) --s;  // xs_[0] is always kept
  for (int64_t j = s; j < l; ++j) {
    xs_[static_cast<size_t>(j + 1)].resize(static_cast<size_t>(n * cfg_.d_model));
    block_forward(cfg_, blocks_[j], *rope_table_, xs_[j].data(), n, acts_[0], xs_[j + 1].data());
  }
}

void TrainModel::final_norm(int64_t n) {
  const int64_t d = cfg_.d_model;
  xf_.resize(static_cast<size_t>(n * d));
  inv_rms_f_.resize(static_cast<size_t>(n));
  rms_norm_forward(xs_.back().data(), output_norm_->value.data(), n, d, cfg_.rms_eps, xf_.data(),
                   inv_rms_f_.data());
}

double TrainModel::head_loss(std::span<const int32_t> ids, const LossSpec& loss, float* dx) {
  const int64_t n = static_cast<int64_t>(ids.size()), d = cfg_.d_model, V = cfg_.vocab_size;
  const bool mixed = loss.teacher_logits && loss.kd_weight != 1.0;
  const float w = static_cast<float>(loss.kd_weight);
  std::vector<float> logits(static_cast<size_t>(std::min(n, kHeadRows) * V)),
      dlogits(logits.size());
  std::vector<float> d_ce(mixed ? logits.size() : 0);
  double kd_sum = 0, ce_sum = 0;  // summed over positions in order; divided at the end
  for (int64_t t0 = 0; t0 < n; t0 += kHeadRows) {
    const int64_t t1 = std::min(n, t0 + kHeadRows), rows = t1 - t0;
    linear_layer_forward(head_, xf_.data() + t0 * d, rows, logits.data());
    if (!loss.teacher_logits) {
      ce_sum += cross_entropy_rows(logits.data(), ids.data(), n, t0, t1, V, dlogits.data());
    } else {
      kd_sum += distillation_rows(logits.data(), loss.teacher_logits + t0 * V, n, t0, t1, V,
                                  loss.temperature, dlogits.data());
      if (mixed) {  // both gradients are linear in their loss: w · d_kd + (1 − w) · d_ce
        ce_sum += cross_entropy_rows(logits.data(), ids.data(), n, t0, t1, V, d_ce.data());
        for (int64_t i = 0; i < rows * V; ++i) dlogits[i] = w * dlogits[i] + (1.0f - w) * d_ce[i];
      }
    }
    if (dx)
      linear_layer_backward(head_, xf_.data() + t0 * d, dlogits.data(), rows, dx + t0 * d, false);
  }
  const double ce = ce_sum / static_cast<double>(n - 1), kd = kd_sum / static_cast<double>(n);
  if (!loss.teacher_logits) return ce;
  if (!mixed) return kd;
  return loss.kd_weight * kd + (1.0 - loss.kd_weight) * ce;
}

double TrainModel::forward_backward(std::span<const int32_t> ids, const LossSpec& loss,
                                    bool checkpoint) {
  check_ids(ids);
  const int64_t n = static_cast<int64_t>(ids.size()), d = cfg_.d_model, L = cfg_.n_layers;
  // Full training: every weight has a gradient from the start. LoRA: a block's adapters get
  // theirs just before its backward (below), so released gradients (ParameterSet::release_grads)
  // of the blocks below take no memory while the block inputs above are still held.
  if (!is_lora())
    for (Parameter& p : params_.all()) p.ensure_grad();
  forward_blocks(ids, checkpoint);

  // Output head with the loss (a few positions at a time), then the final norm.
  final_norm(n);
  std::vector<float> dx(static_cast<size_t>(n * d));
  const double value = head_loss(ids, loss, dx.data());
  rms_norm_backward(xs_.back().data(), output_norm_->value.data(), inv_rms_f_.data(), dx.data(), n,
                    d, dx.data(), output_norm_->grad.data());
  std::vector<float>().swap(xf_);  // not needed by the blocks' backward
  std::vector<float>().swap(xs_.back());

  // Blocks, last to first; under checkpointing each block's forward is re-run from its input,
  // itself recomputed first from the kept input below it when it was not kept.
  for (int64_t l = L - 1; l >= 0; --l) {
    BlockActivations* a = &acts_[static_cast<size_t>(l)];
    if (checkpoint) {
      a = &acts_[0];
      // The last block needs no recomputation: the forward left its activations in acts_[0].
      // The others' recomputation skips their output (the down projection): nothing reads it.
      if (l != L - 1) {
        if (xs_[static_cast<size_t>(l)].empty()) recompute_input(l, n);
        block_forward(cfg_, blocks_[l], *rope_table_, xs_[l].data(), n, *a, nullptr);
      }
    }
    for (auto& [name, layer] : block_linears(blocks_[l]))
      if (layer->lora.a) {
        layer->lora.a->ensure_grad();
        layer->lora.b->ensure_grad();
      }
    block_backward(cfg_, blocks_[l], *rope_table_, xs_[l].data(), *a, dx.data());
    // Its input is not needed any more: give it back, as the next blocks' adapter gradients are
    // sized (up to 12 × [n, d] f32 at tinyllama's 22 blocks and spacing 2: 24 MiB).
    std::vector<float>().swap(xs_[static_cast<size_t>(l)]);
  }
  if (tok_embd_) embedding_backward(ids.data(), dx.data(), n, d, tok_embd_->grad.data());
  return value;
}

double TrainModel::loss(std::span<const int32_t> ids, const LossSpec& loss) {
  check_ids(ids);
  forward_blocks(ids, true);
  final_norm(static_cast<int64_t>(ids.size()));
  return head_loss(ids, loss, nullptr);
}

std::vector<float> TrainModel::logits(std::span<const int32_t> ids) {
  check_ids(ids);
  const int64_t n = static_cast<int64_t>(ids.size());
  forward_blocks(ids, true);
  final_norm(n);
  std::vector<float> out(static_cast<size_t>(n * cfg_.vocab_size));
  linear_layer_forward(head_, xf_.data(), n, out.data());
  return out;
}

}  // namespace edgefit::train
