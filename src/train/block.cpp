#include "train/block.h"

#include <array>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "model/block_linears.h"
#include "model/matmul.h"
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

}  // namespace

const TensorView* bind_frozen(const Model& m, const std::string& name, int64_t rows, int64_t cols) {
  const ModelTensor& t = m.get_matrix(name, rows, cols);
  const TensorView& v = t.view;
  if (!can_dequantize(v.dtype) || v.packing != 0)
    throw Error("tensor '" + name + "' has type " + std::string(dtype_name(v.dtype)) +
                    ", which training cannot read",
                t.source);
  return &v;
}

BlockParams bind_block(ParameterSet& ps, const ArchConfig& c, int l) {
  const Dims D = dims_of(c);
  const std::string p = "blk." + std::to_string(l) + ".";
  BlockParams b;
  b.attn_norm = bind(ps, p + "attn_norm.weight", {D.d});
  b.q.weight = bind(ps, p + "attn_q.weight", {D.q_dim, D.d});
  b.k.weight = bind(ps, p + "attn_k.weight", {D.kv_dim, D.d});
  b.v.weight = bind(ps, p + "attn_v.weight", {D.kv_dim, D.d});
  b.o.weight = bind(ps, p + "attn_output.weight", {D.d, D.q_dim});
  b.q.bias = bind(ps, p + "attn_q.bias", {D.q_dim}, true);
  b.k.bias = bind(ps, p + "attn_k.bias", {D.kv_dim}, true);
  b.v.bias = bind(ps, p + "attn_v.bias", {D.kv_dim}, true);
  b.q_norm = bind(ps, p + "attn_q_norm.weight", {c.head_dim}, true);
  b.k_norm = bind(ps, p + "attn_k_norm.weight", {c.head_dim}, true);
  if (!b.q_norm != !b.k_norm) throw Error("block " + std::to_string(l) + " has only one q/k norm");
  b.ffn_norm = bind(ps, p + "ffn_norm.weight", {D.d});
  b.gate.weight = bind(ps, p + "ffn_gate.weight", {D.ff, D.d});
  b.up.weight = bind(ps, p + "ffn_up.weight", {D.ff, D.d});
  b.down.weight = bind(ps, p + "ffn_down.weight", {D.d, D.ff});
  return b;
}

BlockParams bind_block_frozen(const Model& m, ParameterSet& small, const ArchConfig& c, int l) {
  const Dims D = dims_of(c);
  const std::string p = "blk." + std::to_string(l) + ".";
  BlockParams b;
  b.attn_norm = bind(small, p + "attn_norm.weight", {D.d});
  b.q.frozen = bind_frozen(m, p + "attn_q.weight", D.q_dim, D.d);
  b.k.frozen = bind_frozen(m, p + "attn_k.weight", D.kv_dim, D.d);
  b.v.frozen = bind_frozen(m, p + "attn_v.weight", D.kv_dim, D.d);
  b.o.frozen = bind_frozen(m, p + "attn_output.weight", D.d, D.q_dim);
  b.q.bias = bind(small, p + "attn_q.bias", {D.q_dim}, true);
  b.k.bias = bind(small, p + "attn_k.bias", {D.kv_dim}, true);
  b.v.bias = bind(small, p + "attn_v.bias", {D.kv_dim}, true);
  b.q_norm = bind(small, p + "attn_q_norm.weight", {c.head_dim}, true);
  b.k_norm = bind(small, p + "attn_k_norm.weight", {c.head_dim}, true);
  if (!b.q_norm != !b.k_norm) throw Error("block " + std::to_string(l) + " has only one q/k norm");
  b.ffn_norm = bind(small, p + "ffn_norm.weight", {D.d});
  b.gate.frozen = bind_frozen(m, p + "ffn_gate.weight", D.ff, D.d);
  b.up.frozen = bind_frozen(m, p + "ffn_up.weight", D.ff, D.d);
  b.down.frozen = bind_frozen(m, p + "ffn_down.weight", D.d, D.ff);
  return b;
}

std::vector<std::pair<const char*, LinearLayer*>> block_linears(BlockParams& p) {
  const std::array<LinearLayer*, 7> layers = {&p.q, &p.k, &p.v, &p.o, &p.gate, &p.up, &p.down};
  std::vector<std::pair<const char*, LinearLayer*>> out;
  for (size_t i = 0; i < layers.size(); ++i)  // stems are literals: NUL-terminated
    out.emplace_back(kBlockLinears[i].stem.data(), layers[i]);
  return out;
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
  linear_layer_forward(p.q, a.xn1.data(), n, a.q_lin.data());
  linear_layer_forward(p.k, a.xn1.data(), n, a.k_lin.data());
  linear_layer_forward(p.v, a.xn1.data(), n, a.v.data());
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
  linear_layer_forward(p.o, a.att.data(), n, a.h.data());
  for (int64_t i = 0; i < n * D.d; ++i) a.h[i] += x[i];
  rms_norm_forward(a.h.data(), p.ffn_norm->value.data(), n, D.d, c.rms_eps, a.xn2.data(),
                   a.inv_rms2.data());
  linear_layer_forward(p.gate, a.xn2.data(), n, a.gate.data());
  linear_layer_forward(p.up, a.xn2.data(), n, a.up.data());
  swiglu_forward(a.gate.data(), a.up.data(), n * D.ff, a.act.data());
  linear_layer_forward(p.down, a.act.data(), n, y);
  for (int64_t i = 0; i < n * D.d; ++i) y[i] += a.h[i];
}

void block_backward(const ArchConfig& c, const BlockParams& p, const RopeTable& rope,
                    const BlockActivations& a, const float* dy, float* dx) {
  const Dims D = dims_of(c);
  const int64_t n = a.n;
  std::vector<float> d_act(static_cast<size_t>(n * D.ff)), d_gate(d_act.size());
  std::vector<float> d_h(dy, dy + n * D.d), d_xn(static_cast<size_t>(n * D.d));
  // FFN: y = h + down(act)
  linear_layer_backward(p.down, a.act.data(), dy, n, d_act.data(), false);
  // d_up overwrites d_act (one [n, d_ff] buffer less at the backward's peak).
  swiglu_backward(a.gate.data(), a.up.data(), d_act.data(), n * D.ff, d_gate.data(), d_act.data());
  linear_layer_backward(p.gate, a.xn2.data(), d_gate.data(), n, d_xn.data(), false);
  linear_layer_backward(p.up, a.xn2.data(), d_act.data(), n, d_xn.data(), true);
  rms_norm_backward(a.h.data(), p.ffn_norm->value.data(), a.inv_rms2.data(), d_xn.data(), n, D.d,
                    d_xn.data(), p.ffn_norm->grad.data());
  for (int64_t i = 0; i < n * D.d; ++i) d_h[i] += d_xn[i];
  // Attention: h = x + o(att)
  std::vector<float> d_att(static_cast<size_t>(n * D.q_dim)), dq(d_att.size()),
      dk(static_cast<size_t>(n * D.kv_dim)), dv(dk.size());
  linear_layer_backward(p.o, a.att.data(), d_h.data(), n, d_att.data(), false);
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
  linear_layer_backward(p.q, a.xn1.data(), dq.data(), n, d_xn.data(), false);
  linear_layer_backward(p.k, a.xn1.data(), dk.data(), n, d_xn.data(), true);
  linear_layer_backward(p.v, a.xn1.data(), dv.data(), n, d_xn.data(), true);
  rms_norm_backward(a.x.data(), p.attn_norm->value.data(), a.inv_rms1.data(), d_xn.data(), n, D.d,
                    d_xn.data(), p.attn_norm->grad.data());
  for (int64_t i = 0; i < n * D.d; ++i) dx[i] = d_h[i] + d_xn[i];
}

}  // namespace edgefit::train
