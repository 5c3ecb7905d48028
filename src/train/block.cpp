#include "train/block.h"

#include <algorithm>
#include <array>
#include <cmath>

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

namespace {

// Hands out working buffers from the unused parts of activation buffers that are free at that
// point, and fresh ones only when those are full. Every taken buffer holds stale values: each is
// fully written before it is read.
class Workspace {
 public:
  void add(std::vector<float>& free) { free_.push_back({free.data(), free.size()}); }
  float* take(int64_t size) {
    const size_t want = static_cast<size_t>(size);
    for (Region& r : free_)
      if (r.size >= want) {
        float* out = r.data;
        r.data += want;
        r.size -= want;
        return out;
      }
    return owned_.emplace_back(want).data();
  }

 private:
  struct Region {
    float* data;  // first unused float
    size_t size;  // unused floats from there
  };
  std::vector<Region> free_;               // free buffers' remaining space
  std::vector<std::vector<float>> owned_;  // fallbacks (their data stays put when owned_ grows)
};

// The attention's inputs, recomputed by the backward rather than saved.
struct AttentionInputs {
  float *q, *k, *v;                          // [n, q_dim], [n, kv_dim] ×2 (q, k roped)
  float *q_lin = nullptr, *k_lin = nullptr;  // q, k before their head norms (qwen3)
  std::vector<float> inv_rms_q, inv_rms_k;   // the head norms' 1/rms [n·heads], [n·kv_heads]
};

// q, k, v from the attention norm's output xn1 [n, d], in buffers taken from `ws`.
AttentionInputs attention_inputs(const ArchConfig& c, const BlockParams& p, const RopeTable& rope,
                                 const float* xn1, int64_t n, Workspace& ws) {
  const Dims D = dims_of(c);
  AttentionInputs in;
  in.q = ws.take(n * D.q_dim);
  in.k = ws.take(n * D.kv_dim);
  in.v = ws.take(n * D.kv_dim);
  if (p.q_norm) {
    in.q_lin = ws.take(n * D.q_dim);
    in.k_lin = ws.take(n * D.kv_dim);
    in.inv_rms_q.resize(static_cast<size_t>(n * c.n_heads));
    in.inv_rms_k.resize(static_cast<size_t>(n * c.n_kv_heads));
    linear_layer_forward(p.q, xn1, n, in.q_lin);
    linear_layer_forward(p.k, xn1, n, in.k_lin);
    rms_norm_forward(in.q_lin, p.q_norm->value.data(), n * c.n_heads, c.head_dim, c.rms_eps, in.q,
                     in.inv_rms_q.data());
    rms_norm_forward(in.k_lin, p.k_norm->value.data(), n * c.n_kv_heads, c.head_dim, c.rms_eps,
                     in.k, in.inv_rms_k.data());
  } else {
    linear_layer_forward(p.q, xn1, n, in.q);
    linear_layer_forward(p.k, xn1, n, in.k);
  }
  linear_layer_forward(p.v, xn1, n, in.v);
  rope.forward(in.q, n, c.n_heads);
  rope.forward(in.k, n, c.n_kv_heads);
  return in;
}

}  // namespace

void BlockActivations::resize(const ArchConfig& c, int64_t n_positions) {
  const Dims D = dims_of(c);
  const int64_t n = n_positions;
  this->n = n;
  train::resize(h, n * D.d);
  for (auto* v : {&inv_rms1, &inv_rms2}) train::resize(*v, n);
  // At least [n, d] and [n, q_dim]: the forward parks xn1, att and xn2 in them (a pruned FFN may
  // be narrower than those).
  for (auto* v : {&gate, &up, &act}) train::resize(*v, n * std::max({D.ff, D.d, D.q_dim}));
}

void block_forward(const ArchConfig& c, const BlockParams& p, const RopeTable& rope, const float* x,
                   int64_t n, BlockActivations& a, float* y) {
  const Dims D = dims_of(c);
  if (a.n != n) a.resize(c, n);
  // Until the o projection, xn1 lives in `gate`, the attention output in `up` and q, k, v in
  // `act` (each is written after that).
  float* xn1 = a.gate.data();
  rms_norm_forward(x, p.attn_norm->value.data(), n, D.d, c.rms_eps, xn1, a.inv_rms1.data());
  Workspace ws;
  ws.add(a.act);
  const AttentionInputs in = attention_inputs(c, p, rope, xn1, n, ws);
  float* att = a.up.data();
  std::vector<float> lse(static_cast<size_t>(n * c.n_heads));
  attention_forward(attention_shape(c), in.q, in.k, in.v, n, att, lse.data());
  linear_layer_forward(p.o, att, n, a.h.data());
  for (int64_t i = 0; i < n * D.d; ++i) a.h[i] += x[i];
  // xn2 lives in `act` until the gate and up projections are done (act is written after them).
  float* xn2 = a.act.data();
  rms_norm_forward(a.h.data(), p.ffn_norm->value.data(), n, D.d, c.rms_eps, xn2, a.inv_rms2.data());
  linear_layer_forward(p.gate, xn2, n, a.gate.data());
  linear_layer_forward(p.up, xn2, n, a.up.data());
  swiglu_forward(a.gate.data(), a.up.data(), n * D.ff, a.act.data());
  if (!y) return;
  linear_layer_forward(p.down, a.act.data(), n, y);
  for (int64_t i = 0; i < n * D.d; ++i) y[i] += a.h[i];
}

void block_linear_inputs(const ArchConfig& c, const BlockParams& p, const RopeTable& rope,
                         const float* x, const BlockActivations& a, std::vector<float>& xn1,
                         std::vector<float>& att, std::vector<float>& xn2) {
  const int64_t n = a.n, d = c.d_model;
  std::vector<float> inv_rms(static_cast<size_t>(n)), lse(static_cast<size_t>(n * c.n_heads));
  xn1.resize(static_cast<size_t>(n * d));
  xn2.resize(xn1.size());
  att.resize(static_cast<size_t>(n * c.n_heads * c.head_dim));
  rms_norm_forward(x, p.attn_norm->value.data(), n, d, c.rms_eps, xn1.data(), inv_rms.data());
  Workspace ws;  // no free buffers: q, k, v in fresh ones
  const AttentionInputs in = attention_inputs(c, p, rope, xn1.data(), n, ws);
  attention_forward(attention_shape(c), in.q, in.k, in.v, n, att.data(), lse.data());
  rms_norm_forward(a.h.data(), p.ffn_norm->value.data(), n, d, c.rms_eps, xn2.data(),
                   inv_rms.data());
}

namespace {

// FFN part of the backward, y = h + down(act): adds d loss / d h to dh (holding dy on entry).
// Consumes a.gate, a.up, a.act.
void ffn_backward(const ArchConfig& c, const BlockParams& p, BlockActivations& a, float* dh) {
  const Dims D = dims_of(c);
  const int64_t n = a.n;
  std::vector<float> d_act(static_cast<size_t>(n * D.ff));
  linear_layer_backward(p.down, a.act.data(), dh, n, d_act.data(), false);
  // act is read: d_gate goes over it, d_up over d_act.
  float* d_gate = a.act.data();
  swiglu_backward(a.gate.data(), a.up.data(), d_act.data(), n * D.ff, d_gate, d_act.data());
  // gate and up are read: xn2 is recomputed in the first, its gradient goes to the second.
  float* xn2 = a.gate.data();
  float* d_xn = a.up.data();
  std::vector<float> inv_rms(static_cast<size_t>(n));  // equals a.inv_rms2
  rms_norm_forward(a.h.data(), p.ffn_norm->value.data(), n, D.d, c.rms_eps, xn2, inv_rms.data());
  linear_layer_backward(p.gate, xn2, d_gate, n, d_xn, false);
  linear_layer_backward(p.up, xn2, d_act.data(), n, d_xn, true);
  rms_norm_backward(a.h.data(), p.ffn_norm->value.data(), a.inv_rms2.data(), d_xn, n, D.d, d_xn,
                    p.ffn_norm->grad.data());
  for (int64_t i = 0; i < n * D.d; ++i) dh[i] += d_xn[i];
}

}  // namespace

void block_backward(const ArchConfig& c, const BlockParams& p, const RopeTable& rope,
                    const float* x, BlockActivations& a, float* dy) {
  const Dims D = dims_of(c);
  const int64_t n = a.n;
  ffn_backward(c, p, a, dy);  // dy now holds d loss / d h
  // Attention, h = x + o(att): its inputs (xn1, q, k, v, att) are recomputed and its gradients
  // computed in the consumed [n, d_ff] buffers.
  Workspace ws;
  for (auto* v : {&a.gate, &a.up, &a.act}) ws.add(*v);
  float* xn1 = ws.take(n * D.d);
  std::vector<float> inv_rms(static_cast<size_t>(n));  // equals a.inv_rms1
  rms_norm_forward(x, p.attn_norm->value.data(), n, D.d, c.rms_eps, xn1, inv_rms.data());
  const AttentionInputs in = attention_inputs(c, p, rope, xn1, n, ws);
  float* att = ws.take(n * D.q_dim);
  std::vector<float> lse(static_cast<size_t>(n * c.n_heads));
  attention_forward(attention_shape(c), in.q, in.k, in.v, n, att, lse.data());
  float* d_att = ws.take(n * D.q_dim);
  float* dq = ws.take(n * D.q_dim);
  float* dk = ws.take(n * D.kv_dim);
  float* dv = ws.take(n * D.kv_dim);
  float* d_xn = ws.take(n * D.d);
  linear_layer_backward(p.o, att, dy, n, d_att, false);
  attention_backward(attention_shape(c), in.q, in.k, in.v, att, lse.data(), d_att, n, dq, dk, dv);
  rope.backward(dq, n, c.n_heads);
  rope.backward(dk, n, c.n_kv_heads);
  if (p.q_norm) {
    rms_norm_backward(in.q_lin, p.q_norm->value.data(), in.inv_rms_q.data(), dq, n * c.n_heads,
                      c.head_dim, dq, p.q_norm->grad.data());
    rms_norm_backward(in.k_lin, p.k_norm->value.data(), in.inv_rms_k.data(), dk, n * c.n_kv_heads,
                      c.head_dim, dk, p.k_norm->grad.data());
  }
  linear_layer_backward(p.q, xn1, dq, n, d_xn, false);
  linear_layer_backward(p.k, xn1, dk, n, d_xn, true);
  linear_layer_backward(p.v, xn1, dv, n, d_xn, true);
  rms_norm_backward(x, p.attn_norm->value.data(), a.inv_rms1.data(), d_xn, n, D.d, d_xn,
                    p.attn_norm->grad.data());
  for (int64_t i = 0; i < n * D.d; ++i) dy[i] += d_xn[i];
}

}  // namespace edgefit::train
