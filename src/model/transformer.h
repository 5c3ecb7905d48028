// The Llama-family decoder (llama, mistral, qwen2, qwen3) run straight from a loaded Model:
// embeddings → n × [RMSNorm → GQA attention with RoPE → residual → RMSNorm → SwiGLU → residual]
// → RMSNorm → output head. Architecture differences are data, not code paths: q/k/v biases
// (qwen2), per-head q/k RMSNorm before RoPE (qwen3), tied embeddings, the RoPE layout of the file.
//
// A call to forward() processes a batch of consecutive tokens at once (prefill: matrix × matrix
// products) and appends their keys/values to a KVCache, so the same function also does one-token
// incremental decoding. Weights are used in place (views into the model's mmaps); quantized ones
// are dequantized row by row inside matmul().
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/huge_buffer.h"
#include "formats/model.h"
#include "model/kv_cache.h"
#include "model/lora_adapter.h"
#include "model/matmul.h"
#include "model/rope.h"

namespace edgefit {

// The tensors of one transformer block, bound by name; optional ones are nullptr when absent.
struct LayerWeights {
  std::vector<float> attn_norm;  // [d_model] RMSNorm gain before attention
  // Widths are the layer's own (ArchConfig::heads(l) …); an attention-free layer has no
  // attention weights (nullptr, empty).
  const TensorView* wq = nullptr;      // {n_heads·head_dim, d_model}
  const TensorView* wk = nullptr;      // {n_kv_heads·head_dim, d_model}
  const TensorView* wv = nullptr;      // {n_kv_heads·head_dim, d_model}
  const TensorView* wo = nullptr;      // {d_model, n_heads·head_dim}
  std::vector<float> bq, bk, bv;       // qwen2 biases (empty when the model has none)
  std::vector<float> q_norm, k_norm;   // qwen3 per-head RMSNorm gains [head_dim] (empty if none)
  std::vector<float> ffn_norm;         // [d_model] RMSNorm gain before the FFN
  const TensorView* w_gate = nullptr;  // {d_ff, d_model}
  const TensorView* w_up = nullptr;    // {d_ff, d_model}
  const TensorView* w_down = nullptr;  // {d_model, d_ff}
  // W8A8 (SmoothQuant) layers: per-output-channel f32 scales of an I8 weight, in the order
  // q, k, v, o, gate, up, down; nullptr for a weight that goes through matmul() as usual. Those
  // layers run kernels/w8a8_gemm.h with the ISA of the instance's kernel table.
  std::array<const float*, 7> w8a8_scale{};
};

// Sees the input of every linear layer just before its product: the rows x[0 … n_tokens) of
// `width` floats each. Calibration (imatrix, GPTQ Hessians) is built on it.
using ActivationObserver = std::function<void(const std::string& weight_name, const float* x,
                                              int64_t n_tokens, int64_t width)>;

// What Transformer::repack_weights() did.
struct RepackStats {
  int tensors = 0;        // weights repacked
  int copied = 0;         // weights copied as stored onto huge pages (no packing for their type)
  uint64_t bytes = 0;     // bytes of both (the same before and after)
  uint64_t released = 0;  // bytes of mapped file pages handed back to the OS
  uint64_t huge_page_bytes = 0;  // bytes of the moved weights backed by 2 MiB pages
  double seconds = 0;            // wall time of the repacking
};

class Transformer {
 public:
  // Binds the weights of `model`, which must outlive the Transformer, to run their products with
  // `matmul` (default: the runtime kernels on the process's best table). Throws Error when a
  // tensor is missing, has the wrong shape, or has a type that cannot be dequantized.
  explicit Transformer(const Model& model, MatmulChoice matmul = {});

  const ArchConfig& config() const { return cfg_; }
  // How this instance computes its linear layers (the constructor's choice).
  const MatmulChoice& matmul_choice() const { return matmul_; }
  // Installs (or, with an empty function, removes) the observer of linear-layer inputs.
  void set_activation_observer(ActivationObserver observer);
  int vocab_size() const { return cfg_.vocab_size; }

  // A cache with room for `max_tokens` positions of this model. F32 by default: the logits
  // references in ../shared were made with llama.cpp's F32 cache; bench, generate and eval ask
  // for F16 (llama.cpp's default, as its perplexity references used).
  KVCache make_cache(int64_t max_tokens, KVType type_k = KVType::F32,
                     KVType type_v = KVType::F32) const;
  // Bytes make_cache() would allocate, and bytes of the scratch buffers forward() grows to for a
  // batch of n tokens (without the logits): computed, not allocated, so callers can check them
  // against the memory available first.
  uint64_t cache_bytes(int64_t max_tokens, KVType type_k, KVType type_v) const;
  uint64_t scratch_bytes(int64_t n) const;

  // Runs tokens at positions cache.size() … cache.size()+n-1 and appends them to the cache.
  // Logits are written for the tokens with index >= logits_from (row i - logits_from of
  // `logits`, each vocab_size floats); logits_from == n skips the output head entirely.
  // Throws Error when a token id is out of range or the cache is full. Not thread-safe: one
  // forward at a time per Transformer (it owns its scratch buffers); it uses the global pool,
  // which two Transformers may share from two threads at once (the one that finds it busy runs
  // its loops on its own thread: core/thread_pool.h), with the same logits as alone.
  void forward(std::span<const int32_t> tokens, KVCache& cache, float* logits,
               int64_t logits_from = 0);
  // Same, returning [n - logits_from, vocab_size] logits.
  std::vector<float> forward(std::span<const int32_t> tokens, KVCache& cache,
                             int64_t logits_from = 0);

  // Runs block `layer` alone on the hidden states x[n, d_model] (in place: the block's output
  // replaces its input) at positions cache.size() … cache.size()+n-1, writing that layer's keys
  // and values into the cache. It does NOT advance the cache: forward() advances once after all
  // layers, and layer-by-layer callers (calibration) clear the cache per sequence. The observer
  // sees this block's linear inputs exactly as during forward().
  void forward_block(int layer, float* x, int64_t n, KVCache& cache);
  // Re-reads block `layer` from the model: a caller that pointed the model's tensor views at new
  // bytes (compressed weights, rescaled norm gains) calls this so the next forward uses them.
  // The model's `tensors` vector must not have been resized (views are bound by address).
  void rebind_layer(int layer);

  // Weight placement at load time, for inference. Every weight the selected kernel table reads
  // faster regrouped (Q4_0, Q8_0, Q4_K and Q6_K on the AVX-512, AVX-VNNI and AVX2 tables;
  // kernels.h) is repacked, and every other matmul weight still in the mapped file is copied as
  // stored, into one arena on 2 MiB huge pages where the kernel offers them (core/huge_buffer.h).
  // The mapped originals' pages are handed back to the OS, so memory still holds one copy of the
  // weights. Results stay bit-identical. The instance's MatmulChoice must be the runtime kernels
  // (no `fn`: Error otherwise), and rebind_layer() rebinds a layer unpacked.
  RepackStats repack_weights();

  // Adds `adapter`'s y += s·B·A·x to every projection it adapts (model/lora_adapter.h), after any
  // adapters added before, as llama.cpp stacks several --lora files. `adapter` must outlive this
  // Transformer and be loaded for the same model; the base weights are untouched (repacking
  // before or after is fine). Throws Error for an adapted weight that is not a block projection
  // (q, k, v, o, gate, up, down), which this forward pass does not adapt.
  void add_lora(const LoraAdapter& adapter);

 private:
  // Adds the adapters of projection `slot` (0 … 6: q, k, v, o, gate, up, down) of `layer`.
  void apply_adapters(int layer, int slot, const float* x, int64_t n, float* y) const;
  void attention(int layer, int64_t n, int64_t n_past, KVCache& cache);
  // Runs block `layer` on x_[0 … n·d) (the residual stream in the scratch buffer).
  void run_block(int layer, int64_t n, int64_t n_past, KVCache& cache);
  // Its two halves, each adding its output to x_; `nm` are the observed weight names, `ff` the
  // layer's FFN width.
  void attention_sublayer(int layer, int64_t n, int64_t n_past, KVCache& cache,
                          const std::array<std::string, 7>& nm);
  void feed_forward_sublayer(int layer, int64_t n, int64_t ff,
                             const std::array<std::string, 7>& nm);
  // y = x · Wᵀ through this instance's matmul, or the W8A8 kernel when `w8a8_scale` is set.
  void linear(const TensorView& w, const float* w8a8_scale, const float* x, int64_t n,
              float* y) const;
  // linear() for several weights reading the same x (q/k/v; gate/up): one matmul_multi job when
  // none of them is W8A8.
  void linear_group(std::initializer_list<const TensorView*> ws,
                    std::initializer_list<const float*> w8a8_scales, const float* x, int64_t n,
                    std::initializer_list<float*> ys) const;
  void grow_scratch(int64_t n);
  // RoPE cos/sin of positions first … first+n-1 (head_dim floats each: head_dim/2 cosines, then
  // sines), computed once and shared by every layer's q and k (sin/cos were ~1 % of decode).
  const float* rope_table(int64_t first, int64_t n);
  // Calls the observer, if any, for the weights `names` fed by x[n, width].
  void observe(std::initializer_list<const std::string*> names, const float* x, int64_t n,
               int64_t width) const;

  const Model* model_;              // weights' owner
  MatmulChoice matmul_;             // kernel table or function of every linear layer
  std::vector<HugeBuffer> arenas_;  // repacked weights' bytes (one arena per repack_weights())
  std::vector<std::unique_ptr<TensorView>> packed_views_;  // their views (stable addresses)
  ArchConfig cfg_;                                         // hyperparameters (copied; cheap)
  const TensorView* tok_embd_;                             // {vocab, d_model} token embeddings
  const TensorView* output_;          // {vocab, d_model} output head (tok_embd_ when tied)
  std::vector<float> output_norm_;    // [d_model] final RMSNorm gain
  std::vector<LayerWeights> layers_;  // one per block
  Rope rope_;                         // position encoding matching the file's q/k layout
  ActivationObserver observer_;       // linear-layer input hook (empty: none)
  // Per layer, the weight names the observer reports: q, k, v, o, gate, up, down.
  std::vector<std::array<std::string, 7>> weight_names_;
  static const std::array<std::string, 7> kNoNames;
  // Per layer and projection slot, the LoRA adapters added to it (empty: none). Kept apart from
  // layers_ so rebind_layer() keeps them.
  std::vector<std::array<std::vector<const LoraWeight*>, 7>>
      lora_;                                   // stand-in while no observer is installed
  std::string output_name_ = "output.weight";  // the head's name for the observer

  // Scratch, sized for the largest batch seen so far ([n, width] row-major).
  std::vector<float> x_;        // residual stream [n, d_model]
  std::vector<float> xn_;       // normalised input of the current sub-layer [n, d_model]
  std::vector<float> q_;        // queries [n, n_heads·head_dim]
  std::vector<float> k_;        // new keys [n, kv_dim]
  std::vector<float> v_;        // new values [n, kv_dim]
  std::vector<float> att_;      // attention output [n, n_heads·head_dim]
  std::vector<float> gate_;     // FFN gate, then SiLU(gate)·up [n, d_ff]
  std::vector<float> up_;       // FFN up projection [n, d_ff]
  std::vector<float> tmp_;      // projection back to d_model [n, d_model]
  std::vector<float> rope_cs_;  // rope_table()'s cos/sin [rope_count_, head_dim]
  int64_t rope_first_ = -1;     // first position rope_cs_ holds (-1: none yet)
  int64_t rope_count_ = 0;      // positions rope_cs_ holds

  // Split decode attention's parts: weighted values, maxima and sums (attention()).
  std::vector<float> att_parts_;
};

}  // namespace edgefit
