#include "model/transformer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <new>
#include <string>

#include "core/error.h"
#include "core/huge_buffer.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "formats/model_check.h"
#include "kernels/kernels.h"
#include "kernels/w8a8_gemm.h"
#include "model/attention.h"
#include "model/block_linears.h"
#include "model/matmul.h"
#include "model/rms_norm.h"
#include "model/sparse_check.h"
#include "model/swiglu.h"

namespace edgefit {
namespace {

// memcpy on the global pool in 1 MiB pieces: copying a multi-GB weight set is load time.
void copy_parallel(const void* src, uint64_t bytes, uint8_t* dst) {
  constexpr int64_t kPiece = int64_t{1} << 20;
  const auto* s = static_cast<const uint8_t*>(src);
  const int64_t pieces = static_cast<int64_t>((bytes + kPiece - 1) / kPiece);
  ThreadPool::global().parallel_for(pieces, 1, [&](int64_t b, int64_t e) {
    const uint64_t lo = static_cast<uint64_t>(b * kPiece);
    const uint64_t hi = std::min<uint64_t>(bytes, static_cast<uint64_t>(e * kPiece));
    std::memcpy(dst + lo, s + lo, hi - lo);
  });
}

// The f32 per-output-channel scales of an I8 (W8A8) weight, or nullptr for any other weight.
const float* bind_w8a8_scale(const Model& m, const std::string& name, const TensorView& v) {
  if (v.dtype != DType::I8) return nullptr;
  const ModelTensor* s = m.find(name + "_scale");
  if (!s || s->view.dtype != DType::F32 || s->view.numel() != v.shape[0])
    throw Error("I8 tensor '" + name + "' needs an F32 '" + name + "_scale' of " +
                    std::to_string(v.shape[0]) + " per-channel scales (W8A8)",
                m.get(name).source);
  return reinterpret_cast<const float*>(s->view.data);
}

// Throws when `cache` has no room for `n` more positions.
void check_cache_room(const KVCache& cache, int64_t n) {
  if (cache.size() + n > cache.capacity())
    throw Error("context full: " + std::to_string(cache.size() + n) +
                " positions needed, the cache holds " + std::to_string(cache.capacity()));
}

// Checks a weight's shape and type up front, so a bad file fails at load, not mid-forward.
const TensorView* bind_matrix(const Model& m, const std::string& name, int64_t rows, int64_t cols,
                              const float** w8a8_scale = nullptr) {
  const ModelTensor& t = m.get_matrix(name, rows, cols);
  const TensorView& v = t.view;
  if (w8a8_scale && (*w8a8_scale = bind_w8a8_scale(m, name, v))) return &v;
  if (!can_dequantize(v.dtype))
    throw Error("tensor '" + name + "' has type " + std::string(dtype_name(v.dtype)) +
                    ", which the forward pass cannot read",
                t.source);
  return &v;
}

// Small 1-D tensors (norm gains, biases) are converted to f32 once.
std::vector<float> load_vector(const Model& m, const std::string& name, int64_t n) {
  const ModelTensor& t = m.get(name);
  if (t.view.numel() != n)
    throw Error("tensor '" + name + "' has shape " + t.view.shape_string() + ", expected [" +
                    std::to_string(n) + "]",
                t.source);
  if (!can_dequantize(t.view.dtype))
    throw Error(
        "tensor '" + name + "' has unsupported type " + std::string(dtype_name(t.view.dtype)),
        t.source);
  std::vector<float> out(static_cast<size_t>(n));
  // Flatten to one row so a {1, n} or {n} view dequantizes the same way.
  TensorView flat = TensorView::contiguous(t.view.dtype, std::vector<int64_t>{n}, t.view.data);
  dequantize_row(flat, 0, out.data());
  return out;
}

std::vector<float> load_optional(const Model& m, const std::string& name, int64_t n) {
  return m.find(name) ? load_vector(m, name, n) : std::vector<float>{};
}

Rope make_rope(const Model& m) {
  // Llama-3 GGUFs carry their frequency factors as a tensor instead of metadata.
  std::vector<float> factors;
  if (m.find("rope_freqs.weight"))
    factors = load_vector(m, "rope_freqs.weight", m.config.head_dim / 2);
  return Rope(m.config, std::move(factors));
}

void grow(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}

// The residual stream x += out for n tokens of width d, split by tokens over the pool: a prefill's
// 512 × 2048 floats are ~12 MiB of traffic per sublayer, which one thread did alone while the
// other waited. Element by element, so the floats do not depend on the split; one token (decode)
// stays on the calling thread.
void add_residual(ThreadPool& pool, float* x, const float* out, int64_t n, int64_t d) {
  pool.parallel_for(n, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b * d; i < e * d; ++i) x[i] += out[i];
  });
}

}  // namespace

Transformer::Transformer(const Model& model, MatmulChoice matmul)
    : model_(&model), matmul_(matmul), cfg_(model.config), rope_(make_rope(model)) {
  const ArchConfig& c = cfg_;
  check_arch_config(c, model.format, model.path);  // names the field out of range
  check_sparse_tensors(model);  // the sparse kernels trust every index and mask (sparse_check.h)
  const int64_t d = c.d_model;
  tok_embd_ = bind_matrix(model, "token_embd.weight", c.vocab_size, d);
  output_ = model.find("output.weight") ? bind_matrix(model, "output.weight", c.vocab_size, d)
                                        : tok_embd_;
  output_norm_ = load_vector(model, "output_norm.weight", d);
  layers_.resize(static_cast<size_t>(c.n_layers));
  for (int l = 0; l < c.n_layers; ++l) rebind_layer(l);
}

void Transformer::rebind_layer(int l) {
  const ArchConfig& c = cfg_;
  const Model& model = *model_;
  // Widths of this layer (per-layer models: formats/model.h).
  const int64_t d = c.d_model, q_dim = int64_t{c.heads(l)} * c.head_dim,
                kv_dim = int64_t{c.kv_heads(l)} * c.head_dim, ff = c.ff(l);
  const std::string p = "blk." + std::to_string(l) + ".";
  LayerWeights w;
  auto& sc = w.w8a8_scale;
  if (c.heads(l) > 0) {  // an attention-free layer (deci) has none of these
    w.attn_norm = load_vector(model, p + "attn_norm.weight", d);
    w.wq = bind_matrix(model, p + "attn_q.weight", q_dim, d, &sc[0]);
    w.wk = bind_matrix(model, p + "attn_k.weight", kv_dim, d, &sc[1]);
    w.wv = bind_matrix(model, p + "attn_v.weight", kv_dim, d, &sc[2]);
    w.wo = bind_matrix(model, p + "attn_output.weight", d, q_dim, &sc[3]);
    w.bq = load_optional(model, p + "attn_q.bias", q_dim);
    w.bk = load_optional(model, p + "attn_k.bias", kv_dim);
    w.bv = load_optional(model, p + "attn_v.bias", kv_dim);
    w.q_norm = load_optional(model, p + "attn_q_norm.weight", c.head_dim);
    w.k_norm = load_optional(model, p + "attn_k_norm.weight", c.head_dim);
  }
  w.ffn_norm = load_vector(model, p + "ffn_norm.weight", d);
  w.w_gate = bind_matrix(model, p + "ffn_gate.weight", ff, d, &sc[4]);
  w.w_up = bind_matrix(model, p + "ffn_up.weight", ff, d, &sc[5]);
  w.w_down = bind_matrix(model, p + "ffn_down.weight", d, ff, &sc[6]);
  layers_.at(static_cast<size_t>(l)) = std::move(w);
}

RepackStats Transformer::repack_weights() {
  const auto t0 = std::chrono::steady_clock::now();
  if (matmul_.fn)
    throw Error(
        "repack_weights: this model runs a plain matmul function, which cannot read "
        "repacked weights");
  const kernels::KernelDispatch& kd = kernel_table(matmul_);
  // Which weights move: every one the kernels read faster regrouped (can_repack; W8A8's I8 is
  // not among them), and, when the kernel has huge pages to give, every other contiguous matmul
  // weight still in the mapped file, copied as stored: decode streams all of them every token
  // and reads them 5-15 % faster off 2 MiB pages (core/huge_buffer.h). Only mapped-file weights
  // are copied, because only their old pages can be handed back (memory keeps one copy).
  const bool huge = huge_pages_available();
  // Each weight to move, and whether it is repacked (can_repack scans a Q4_QMASK62 weight's
  // blocks: asked once per weight).
  std::vector<std::pair<const TensorView**, bool>> todo;
  auto want = [&](const TensorView*& w) {
    if (w == nullptr) return;
    const bool repack = kernels::can_repack(kd, *w);
    if (repack ||
        (huge && w->packing == 0 && w->is_contiguous() && is_file_mapping(w->data, w->nbytes())))
      todo.emplace_back(&w, repack);
  };
  for (LayerWeights& lw : layers_)
    for (const TensorView** w : {&lw.wq, &lw.wk, &lw.wv, &lw.wo, &lw.w_gate, &lw.w_up, &lw.w_down})
      want(*w);
  if (output_ != tok_embd_) want(output_);  // a tied head is also the embedding table
  RepackStats st;
  if (todo.empty()) return st;
  // One arena for all of them, each weight 64-byte aligned so packed chunks start on cache lines
  // where the row width allows.
  auto aligned = [](uint64_t b) { return (b + 63) & ~uint64_t{63}; };
  uint64_t total = 0;
  for (const auto& [w, repack] : todo) total += aligned((*w)->nbytes());
  HugeBuffer arena(total);
  uint64_t off = 0;
  for (const auto& [w, repack] : todo) {
    const TensorView& src = **w;
    const uint64_t bytes = src.nbytes();
    uint8_t* dst = arena.data() + off;
    std::unique_ptr<TensorView> view;
    if (repack) {
      view = std::make_unique<TensorView>(kernels::repack_weight(src, dst));
      ++st.tensors;
    } else {
      copy_parallel(src.data, bytes, dst);
      view = std::make_unique<TensorView>(src);
      view->data = dst;
      ++st.copied;
    }
    st.released += release_file_pages(src.data, bytes);
    st.bytes += bytes;
    off += aligned(bytes);
    *w = view.get();
    packed_views_.push_back(std::move(view));
  }
  st.huge_page_bytes = arena.huge_bytes();
  arenas_.push_back(std::move(arena));
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

KVCache Transformer::make_cache(int64_t max_tokens, KVType type_k, KVType type_v) const {
  return KVCache(cfg_.n_layers, max_tokens, cfg_.n_kv_heads, cfg_.head_dim, type_k, type_v);
}

uint64_t Transformer::cache_bytes(int64_t max_tokens, KVType type_k, KVType type_v) const {
  return KVCache::bytes_for(cfg_.n_layers, max_tokens, cfg_.n_kv_heads, cfg_.head_dim, type_k,
                            type_v);
}

uint64_t Transformer::scratch_bytes(int64_t n) const {
  const ArchConfig& c = cfg_;
  const uint64_t q_dim = uint64_t(c.n_heads) * uint64_t(c.head_dim),
                 kv_dim = uint64_t(c.n_kv_heads) * uint64_t(c.head_dim);
  // grow_scratch()'s buffers plus the RoPE table, per token.
  const uint64_t per_token = 3 * uint64_t(c.d_model) + 2 * q_dim + 2 * kv_dim +
                             2 * uint64_t(c.d_ff) + uint64_t(c.head_dim);
  return uint64_t(n) * per_token * sizeof(float);
}

std::vector<float> Transformer::forward(std::span<const int32_t> tokens, KVCache& cache,
                                        int64_t logits_from) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  std::vector<float> out(
      static_cast<size_t>(std::max<int64_t>(0, n - logits_from) * cfg_.vocab_size));
  forward(tokens, cache, out.data(), logits_from);
  return out;
}

void Transformer::grow_scratch(int64_t n) {
  const ArchConfig& c = cfg_;
  const int64_t d = c.d_model, q_dim = int64_t{c.n_heads} * c.head_dim,
                kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
  grow(x_, n * d);
  grow(xn_, n * d);
  grow(q_, n * q_dim);
  grow(k_, n * kv_dim);
  grow(v_, n * kv_dim);
  grow(att_, n * q_dim);
  grow(gate_, n * c.d_ff);
  grow(up_, n * c.d_ff);
  grow(tmp_, n * d);
}

const float* Transformer::rope_table(int64_t first, int64_t n) {
  if (first != rope_first_ || n > rope_count_) {
    const int64_t hd = cfg_.head_dim;
    grow(rope_cs_, n * hd);
    ThreadPool::global().parallel_for(n, 64, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        float* cs = rope_cs_.data() + t * hd;
        rope_.angles(first + t, cs, cs + hd / 2);
      }
    });
    rope_first_ = first;
    rope_count_ = n;
  }
  return rope_cs_.data();
}

void Transformer::linear(const TensorView& w, const float* w8a8_scale, const float* x, int64_t n,
                         float* y) const {
  if (w8a8_scale) {
    w8a8_matmul(reinterpret_cast<const int8_t*>(w.data), w8a8_scale, w.shape[0], w.shape[1], x, n,
                y, w8a8_isa_for(kernel_table(matmul_)));
    return;
  }
  matmul(matmul_, w, x, n, y);
}

void Transformer::linear_group(std::initializer_list<const TensorView*> ws,
                               std::initializer_list<const float*> w8a8_scales, const float* x,
                               int64_t n, std::initializer_list<float*> ys) const {
  if (std::all_of(w8a8_scales.begin(), w8a8_scales.end(), [](const float* s) { return !s; })) {
    matmul_multi(matmul_, std::span(ws.begin(), ws.size()), x, n, std::span(ys.begin(), ys.size()));
    return;
  }
  for (size_t i = 0; i < ws.size(); ++i)
    linear(*ws.begin()[i], w8a8_scales.begin()[i], x, n, ys.begin()[i]);
}

void Transformer::forward(std::span<const int32_t> tokens, KVCache& cache, float* logits,
                          int64_t logits_from) {
  const ArchConfig& c = cfg_;
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return;
  if (logits_from < 0 || logits_from > n) throw Error("forward: logits_from is out of range");
  const int64_t n_past = cache.size();
  check_cache_room(cache, n);
  const int64_t d = c.d_model;
  grow_scratch(n);

  for (int64_t t = 0; t < n; ++t) {
    const int32_t id = tokens[static_cast<size_t>(t)];
    if (id < 0 || id >= c.vocab_size)
      throw Error("token id " + std::to_string(id) + " is outside the vocabulary (" +
                  std::to_string(c.vocab_size) + ")");
    dequantize_row(*tok_embd_, id, x_.data() + t * d);
  }

  for (int l = 0; l < c.n_layers; ++l) run_block(l, n, n_past, cache);
  cache.advance(n);

  // --- output head, only for the rows the caller wants ---
  const int64_t n_out = n - logits_from;
  if (n_out == 0) return;
  for (int64_t t = 0; t < n_out; ++t)
    rms_norm(x_.data() + (logits_from + t) * d, output_norm_.data(), xn_.data() + t * d, d,
             c.rms_eps);
  observe({&output_name_}, xn_.data(), n_out, d);
  matmul(matmul_, *output_, xn_.data(), n_out, logits);
}

void Transformer::forward_block(int layer, float* x, int64_t n, KVCache& cache) {
  if (layer < 0 || layer >= cfg_.n_layers) throw Error("forward_block: layer out of range");
  if (n == 0) return;
  const int64_t n_past = cache.size();
  check_cache_room(cache, n);
  const int64_t d = cfg_.d_model;
  grow_scratch(n);
  std::copy(x, x + n * d, x_.begin());
  run_block(layer, n, n_past, cache);
  std::copy(x_.begin(), x_.begin() + n * d, x);
}

void Transformer::run_block(int l, int64_t n, int64_t n_past, KVCache& cache) {
  // Observed weight names exist only once an observer was installed.
  const std::array<std::string, 7>* names =
      observer_ ? &weight_names_[static_cast<size_t>(l)] : nullptr;
  const auto& nm = names ? *names : kNoNames;
  // --- attention (an attention-free layer passes the residual stream on, as llama.cpp's deci) ---
  if (cfg_.heads(l) > 0) attention_sublayer(l, n, n_past, cache, nm);
  feed_forward_sublayer(l, n, cfg_.ff(l), nm);
}

void Transformer::attention_sublayer(int l, int64_t n, int64_t n_past, KVCache& cache,
                                     const std::array<std::string, 7>& nm) {
  const ArchConfig& c = cfg_;
  const int heads = c.heads(l), kv_heads = c.kv_heads(l);  // this layer's widths
  const int64_t d = c.d_model, q_dim = int64_t{heads} * c.head_dim,
                kv_dim = int64_t{kv_heads} * c.head_dim, hd = c.head_dim;
  ThreadPool& pool = ThreadPool::global();
  const LayerWeights& w = layers_[static_cast<size_t>(l)];
  const auto& sc = w.w8a8_scale;
  pool.parallel_for(n, 16, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t)
      rms_norm(x_.data() + t * d, w.attn_norm.data(), xn_.data() + t * d, d, c.rms_eps);
  });
  observe({&nm[0], &nm[1], &nm[2]}, xn_.data(), n, d);
  linear_group({w.wq, w.wk, w.wv}, {sc[0], sc[1], sc[2]}, xn_.data(), n,
               {q_.data(), k_.data(), v_.data()});
  apply_adapters(l, 0, xn_.data(), n, q_.data());
  apply_adapters(l, 1, xn_.data(), n, k_.data());
  apply_adapters(l, 2, xn_.data(), n, v_.data());
  const float* rope_cs = rope_table(n_past, n);
  pool.parallel_for(n, 4, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      float* q = q_.data() + t * q_dim;
      float* k = k_.data() + t * kv_dim;
      float* v = v_.data() + t * kv_dim;
      if (!w.bq.empty())
        for (int64_t i = 0; i < q_dim; ++i) q[i] += w.bq[static_cast<size_t>(i)];
      if (!w.bk.empty())
        for (int64_t i = 0; i < kv_dim; ++i) k[i] += w.bk[static_cast<size_t>(i)];
      if (!w.bv.empty())
        for (int64_t i = 0; i < kv_dim; ++i) v[i] += w.bv[static_cast<size_t>(i)];
      // qwen3 normalises each head of q and k before rotating it.
      if (!w.q_norm.empty())
        for (int h = 0; h < heads; ++h)
          rms_norm(q + h * hd, w.q_norm.data(), q + h * hd, hd, c.rms_eps);
      if (!w.k_norm.empty())
        for (int h = 0; h < kv_heads; ++h)
          rms_norm(k + h * hd, w.k_norm.data(), k + h * hd, hd, c.rms_eps);
      const float* cs = rope_cs + t * hd;
      rope_.rotate(q, heads, cs, cs + hd / 2);
      rope_.rotate(k, kv_heads, cs, cs + hd / 2);
      cache.store(l, n_past + t, k, v, kv_heads);
    }
  });
  attention(l, n, n_past, cache);
  observe({&nm[3]}, att_.data(), n, q_dim);
  linear(*w.wo, sc[3], att_.data(), n, tmp_.data());
  apply_adapters(l, 3, att_.data(), n, tmp_.data());
  add_residual(pool, x_.data(), tmp_.data(), n, d);
}

void Transformer::feed_forward_sublayer(int l, int64_t n, int64_t ff,
                                        const std::array<std::string, 7>& nm) {
  const ArchConfig& c = cfg_;
  const int64_t d = c.d_model;
  ThreadPool& pool = ThreadPool::global();
  const LayerWeights& w = layers_[static_cast<size_t>(l)];
  const auto& sc = w.w8a8_scale;
  // --- SwiGLU feed-forward ---
  pool.parallel_for(n, 16, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t)
      rms_norm(x_.data() + t * d, w.ffn_norm.data(), xn_.data() + t * d, d, c.rms_eps);
  });
  observe({&nm[4], &nm[5]}, xn_.data(), n, d);
  linear_group({w.w_gate, w.w_up}, {sc[4], sc[5]}, xn_.data(), n, {gate_.data(), up_.data()});
  apply_adapters(l, 4, xn_.data(), n, gate_.data());
  apply_adapters(l, 5, xn_.data(), n, up_.data());
  // One token's d_ff values take a few microseconds on this thread, less than waking the pool.
  pool.parallel_for(n, 4, [&](int64_t b, int64_t e) {
    swiglu(gate_.data() + b * ff, up_.data() + b * ff, (e - b) * ff);
  });
  observe({&nm[6]}, gate_.data(), n, ff);
  linear(*w.w_down, sc[6], gate_.data(), n, tmp_.data());
  apply_adapters(l, 6, gate_.data(), n, tmp_.data());
  add_residual(pool, x_.data(), tmp_.data(), n, d);
}

const std::array<std::string, 7> Transformer::kNoNames{};

void Transformer::add_lora(const LoraAdapter& adapter) {
  const auto& kSlots = kBlockLinearSuffixes;  // slot s of a layer: its s-th linear weight
  // Check every name first, so a refused adapter leaves the Transformer unchanged.
  std::vector<std::pair<size_t, const LoraWeight*>> bound;  // (layer·7 + slot, factors)
  for (const auto& [name, w] : adapter.weights) {
    bool found = false;
    for (int l = 0; l < cfg_.n_layers && !found; ++l)
      for (size_t s = 0; s < kSlots.size() && !found; ++s)
        if (name == "blk." + std::to_string(l) + "." + std::string(kSlots[s])) {
          bound.emplace_back(static_cast<size_t>(l) * kSlots.size() + s, &w);
          found = true;
        }
    if (!found)
      throw Error("adapter weight '" + name + "' is not a block projection edgefit adapts",
                  adapter.path);
  }
  if (lora_.empty()) lora_.resize(static_cast<size_t>(cfg_.n_layers));
  for (const auto& [index, w] : bound)
    lora_[index / kSlots.size()][index % kSlots.size()].push_back(w);
}

void Transformer::apply_adapters(int layer, int slot, const float* x, int64_t n, float* y) const {
  if (lora_.empty()) return;
  for (const LoraWeight* w : lora_[static_cast<size_t>(layer)][static_cast<size_t>(slot)])
    apply_lora(*w, x, n, y);
}

void Transformer::set_activation_observer(ActivationObserver observer) {
  observer_ = std::move(observer);
  // Names are built once here, so forward() does no string work when nobody observes.
  if (weight_names_.empty())
    for (int l = 0; l < cfg_.n_layers; ++l) weight_names_.push_back(block_linear_names(l));
}

void Transformer::observe(std::initializer_list<const std::string*> names, const float* x,
                          int64_t n, int64_t width) const {
  if (!observer_) return;
  for (const std::string* name : names) observer_(*name, x, n, width);
}

void Transformer::attention(int layer, int64_t n, int64_t n_past, KVCache& cache) {
  const ArchConfig& c = cfg_;
  const int n_kv = c.kv_heads(layer);  // this layer's key/value heads
  const int64_t hd = c.head_dim, q_dim = int64_t{c.heads(layer)} * hd;
  const int group = c.heads(layer) / n_kv;  // query heads sharing one key/value head
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const KVCache& kv = cache;
  const AttentionTable& at = attention_table();
  ThreadPool& pool = ThreadPool::global();
  // Decoding with fewer KV heads than threads: split the positions as well (whole 16-position
  // blocks, at least kMinPart per part) and combine the parts, or the other threads idle while a
  // long context is read.
  constexpr int64_t kMinPart = 512;
  const int64_t n_keys = n_past + 1;
  int64_t parts = 1;
  if (n == 1 && n_kv < pool.size())
    parts = std::min<int64_t>((pool.size() + n_kv - 1) / n_kv, n_keys / kMinPart);
  if (parts > 1) {
    const int64_t span = ((n_keys + parts - 1) / parts + KVCache::kKeyBlock - 1) /
                         KVCache::kKeyBlock * KVCache::kKeyBlock;
    parts = (n_keys + span - 1) / span;
    const int64_t slots = n_kv * parts * group;  // (KV head, part, query head)
    grow(att_parts_, slots * (hd + 2));
    float* acc = att_parts_.data();
    float* m = acc + slots * hd;
    float* l = m + slots;
    pool.parallel_for(n_kv * parts, 1, [&](int64_t b, int64_t e) {
      for (int64_t task = b; task < e; ++task) {
        const int kvh = static_cast<int>(task / parts);
        const int64_t k0 = task % parts * span, k1 = std::min(n_keys, k0 + span);
        at.attend_part(kv, layer, kvh, k0, k1, q_.data() + int64_t{kvh} * group * hd, group, scale,
                       acc + task * group * hd, m + task * group, l + task * group);
      }
    });
    for (int kvh = 0; kvh < n_kv; ++kvh) {
      const int64_t first = int64_t{kvh} * parts;
      combine_attention_parts(static_cast<int>(parts), group, hd, acc + first * group * hd,
                              m + first * group, l + first * group,
                              att_.data() + int64_t{kvh} * group * hd);
    }
    return;
  }
  // One task per (query token, KV head) with all its query heads; work grows with the position,
  // so the tasks go from the last token to the first: the pool hands out ~4 contiguous chunks per
  // thread in order, and with the heaviest chunks first the light ones fill the gaps at the end
  // (in token order the heaviest came last: 2 threads' 8 chunks of work 1, 3, …, 15 finished at
  // 36 instead of 32). Tasks are independent, so the floats do not change.
  pool.parallel_for(n * n_kv, 1, [&](int64_t b, int64_t e) {
    for (int64_t task = b; task < e; ++task) {
      const int64_t t = n - 1 - task / n_kv;
      const int kvh = static_cast<int>(task % n_kv);
      const int64_t keys = n_past + t + 1;  // causal: keys up to and including this position
      const int64_t first = t * q_dim + int64_t{kvh} * group * hd;  // its first query head
      at.attend(kv, layer, kvh, keys, q_.data() + first, group, scale, att_.data() + first);
    }
  });
}

}  // namespace edgefit
