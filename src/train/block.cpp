#include "train/block.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "train/attention.h"
#include "train/linear.h"
#include "train/rms_norm.h"
#include "train/swiglu.h"

namespace edgefit::train {
namespace {

// Widths of one block, derived once from the config.
struct Dims {
  int64_t d, q_dim, kv_dim, ff;
};

Dims dims_of(const ArchConfig& c) {
  return {c.d_model, int64_t{c.n_heads} * c.head_dim, int64_t{c.n_kv_heads} * c.head_dim, c.d_ff};
}

Parameter* bind(ParameterSet& ps, const std::string& name, std::vector<int64_t> shape,
                bool optional = false) {
  Parameter* p = ps.find(name);
  if (!p) {
    if (optional) return nullptr;
    throw Error("model has no tensor '" + name + "'");
  }
  // A 1-D gain may be stored as {n} or {1, n}; compare element counts for those.
  int64_t want = 1, have = 1;
  for (int64_t s : shape) want *= s;
  for (int64_t s : p->shape) have *= s;
  if ((shape.size() == 1 ? want != have : p->shape != shape))
    throw Error("tensor '" + name + "' has " + std::to_string(have) +
                " values in an unexpected shape for this architecture");
  return p;
}

void resize(std::vector<float>& v, int64_t n) {
  v.assign(static_cast<size_t>(n), 0.0f);
}

AttentionShape attention_shape(const ArchConfig& c) {
  return {c.n_heads, c.n_kv_heads, c.head_dim, 1.0f / std::sqrt(static_cast<float>(c.head_dim))};
}

// y = x·Wᵀ (+ b) for a trainable weight.
void linear(const Parameter& w, const Parameter* b, const float* x, int64_t n, float* y) {
  linear_forward(w.value.data(), b ? b->value.data() : nullptr, w.shape[0], w.shape[1], x, n, y);
}

// dx (+)= dy·W, dW += dyᵀx, db += Σ dy.
void linear_backward(Parameter& w, Parameter* b, const float* x, const float* dy, int64_t n,
                     float* dx, bool accumulate) {
  linear_backward_input(f32_matrix_view(w.value.data(), w.shape[0], w.shape[1]), dy, n, dx,
                        accumulate);
  linear_backward_weight(x, dy, n, w.shape[0], w.shape[1], w.grad.data(),
                         b ? b->grad.data() : nullptr);
}

}  // namespace

BlockParams bind_block(ParameterSet& ps, const ArchConfig& c, int l) {
  const Dims D = dims_of(c);
  const std::string p = "blk." + std::to_string(l) + ".";
  BlockParams b;
  b.attn_norm = bind(ps, p + "attn_norm.weight", {D.d});
  b.wq = bind(ps, p + "attn_q.weight", {D.q_dim, D.d});
  b.wk = bind(ps, p + "attn_k.weight", {D.kv_dim, D.d});
  b.wv = bind(ps, p + "attn_v.weight", {D.kv_dim, D.d});
  b.wo = bind(ps, p + "attn_output.weight", {D.d, D.q_dim});
  b.bq = bind(ps, p + "attn_q.bias", {D.q_dim}, true);
  b.bk = bind(ps, p + "attn_k.bias", {D.kv_dim}, true);
  b.bv = bind(ps, p + "attn_v.bias", {D.kv_dim}, true);
  b.q_norm = bind(ps, p + "attn_q_norm.weight", {c.head_dim}, true);
  b.k_norm = bind(ps, p + "attn_k_norm.weight", {c.head_dim}, true);
  if (!b.q_norm != !b.k_norm) throw Error("block " + std::to_string(l) + " has only one q/k norm");
  b.ffn_norm = bind(ps, p + "ffn_norm.weight", {D.d});
  b.w_gate = bind(ps, p + "ffn_gate.weight", {D.ff, D.d});
  b.w_up = bind(ps, p + "ffn_up.weight", {D.ff, D.d});
  b.w_down = bind(ps, p + "ffn_down.weight", {D.d, D.ff});
  return b;
}

void BlockActivations::resize(const ArchConfig& c, int64_t n_positions) {
  const Dims D = dims_of(c);
  const int64_t n = n_positions;
  this->n = n;
  for (auto* v : {&x, &xn1, &h, &xn2}) train::resize(*v, n * D.d);
  for (auto* v : {&inv_rms1, &inv_rms2}) train::resize(*v, n);
  for (auto* v : {&q_lin, &q, &att}) train::resize(*v, n * D.q_dim);
  for (auto* v : {&k_lin, &k, &v}) train::resize(*v, n * D.kv_dim);
  train::resize(inv_rms_q, n * c.n_heads);
  train::resize(inv_rms_k, n * c.n_kv_heads);
  train::resize(lse, n * c.n_heads);
  for (auto* v : {&gate, &up, &act}) train::resize(*v, n * D.ff);
}

void block_forward(const ArchConfig& c, const BlockParams& p, const RopeTable& rope, const float* x,
                   int64_t n, BlockActivations& a, float* y) {
  const Dims D = dims_of(c);
  if (a.n != n) a.resize(c, n);
  std::memcpy(a.x.data(), x, static_cast<size_t>(n * D.d) * sizeof(float));
  rms_norm_forward(x, p.attn_norm->value.data(), n, D.d, c.rms_eps, a.xn1.data(),
                   a.inv_rms1.data());
  linear(*p.wq, p.bq, a.xn1.data(), n, a.q_lin.data());
  linear(*p.wk, p.bk, a.xn1.data(), n, a.k_lin.data());
  linear(*p.wv, p.bv, a.xn1.data(), n, a.v.data());
  if (p.q_norm) {
    rms_norm_forward(a.q_lin.data(), p.q_norm->value.data(), n * c.n_heads, c.head_dim, c.rms_eps,
                     a.q.data(), a.inv_rms_q.data());
    rms_norm_forward(a.k_lin.data(), p.k_norm->value.data(), n * c.n_kv_heads, c.head_dim,
                     c.rms_eps, a.k.data(), a.inv_rms_k.data());
  } else {
    a.q = a.q_lin;
    a.k = a.k_lin;
  }
  rope.forward(a.q.data(), n, c.n_heads);
  rope.forward(a.k.data(), n, c.n_kv_heads);
  attention_forward(attention_shape(c), a.q.data(), a.k.data(), a.v.data(), n, a.att.data(),
                    a.lse.data());
  linear(*p.wo, nullptr, a.att.data(), n, a.h.data());
  for (int64_t i = 0; i < n * D.d; ++i) a.h[i] += x[i];
  rms_norm_forward(a.h.data(), p.ffn_norm->value.data(), n, D.d, c.rms_eps, a.xn2.data(),
                   a.inv_rms2.data());
  linear(*p.w_gate, nullptr, a.xn2.data(), n, a.gate.data());
  linear(*p.w_up, nullptr, a.xn2.data(), n, a.up.data());
  swiglu_forward(a.gate.data(), a.up.data(), n * D.ff, a.act.data());
  linear(*p.w_down, nullptr, a.act.data(), n, y);
  for (int64_t i = 0; i < n * D.d; ++i) y[i] += a.h[i];
}

void block_backward(const ArchConfig& c, const BlockParams& p, const RopeTable& rope,
                    const BlockActivations& a, const float* dy, float* dx) {
  const Dims D = dims_of(c);
  const int64_t n = a.n;
  std::vector<float> d_act(static_cast<size_t>(n * D.ff)), d_gate(d_act.size()), d_up(d_act.size());
  std::vector<float> d_h(dy, dy + n * D.d), d_xn(static_cast<size_t>(n * D.d));
  // FFN: y = h + down(act)
  linear_backward(*p.w_down, nullptr, a.act.data(), dy, n, d_act.data(), false);
  swiglu_backward(a.gate.data(), a.up.data(), d_act.data(), n * D.ff, d_gate.data(), d_up.data());
  linear_backward(*p.w_gate, nullptr, a.xn2.data(), d_gate.data(), n, d_xn.data(), false);
  linear_backward(*p.w_up, nullptr, a.xn2.data(), d_up.data(), n, d_xn.data(), true);
  rms_norm_backward(a.h.data(), p.ffn_norm->value.data(), a.inv_rms2.data(), d_xn.data(), n, D.d,
                    d_xn.data(), p.ffn_norm->grad.data());
  for (int64_t i = 0; i < n * D.d; ++i) d_h[i] += d_xn[i];
  // Attention: h = x + o(att)
  std::vector<float> d_att(static_cast<size_t>(n * D.q_dim)), dq(d_att.size()),
      dk(static_cast<size_t>(n * D.kv_dim)), dv(dk.size());
  linear_backward(*p.wo, nullptr, a.att.data(), d_h.data(), n, d_att.data(), false);
  attention_backward(attention_shape(c), a.q.data(), a.k.data(), a.v.data(), a.att.data(),
                     a.lse.data(), d_att.data(), n, dq.data(), dk.data(), dv.data());
  rope.backward(dq.data(), n, c.n_heads);
  rope.backward(dk.data(), n, c.n_kv_heads);
  if (p.q_norm) {
    rms_norm_backward(a.q_lin.data(), p.q_norm->value.data(), a.inv_rms_q.data(), dq.data(),
                      n * c.n_heads, c.head_dim, dq.data(), p.q_norm->grad.data());
    rms_norm_backward(a.k_lin.data(), p.k_norm->value.data(), a.inv_rms_k.data(), dk.data(),
                      n * c.n_kv_heads, c.head_dim, dk.data(), p.k_norm->grad.data());
  }
  linear_backward(*p.wq, p.bq, a.xn1.data(), dq.data(), n, d_xn.data(), false);
  linear_backward(*p.wk, p.bk, a.xn1.data(), dk.data(), n, d_xn.data(), true);
  linear_backward(*p.wv, p.bv, a.xn1.data(), dv.data(), n, d_xn.data(), true);
  rms_norm_backward(a.x.data(), p.attn_norm->value.data(), a.inv_rms1.data(), d_xn.data(), n, D.d,
                    d_xn.data(), p.attn_norm->grad.data());
  for (int64_t i = 0; i < n * D.d; ++i) dx[i] = d_h[i] + d_xn[i];
}

}  // namespace edgefit::train
