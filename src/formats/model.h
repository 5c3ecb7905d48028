// The one in-memory model representation every loader yields and every method consumes:
// an architecture config plus named tensors (views into memory-mapped files where possible).
//
// Tensor names follow GGUF / llama.cpp ("token_embd.weight", "blk.3.attn_q.weight", …) whatever
// the source format, and shapes are outermost first ({out_features, in_features}).
//
// RoPE layout. llama.cpp stores llama-family attn_q/attn_k with rows permuted so RoPE rotates
// adjacent pairs (x[2i], x[2i+1]); Hugging Face stores them so RoPE rotates halves
// (x[i], x[i+d/2]). Rather than copying weights to one layout at load time, a Model records which
// one its q/k rows are in (`rope_interleaved`) and the forward pass rotates accordingly; the two
// are the same function of the input. Exporters convert with formats/qk_permute.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace edgefit {

// Llama-3 style frequency scaling of RoPE ("rope_scaling": {"rope_type": "llama3", …}).
struct RopeScaling {
  std::string type;                  // "" (none), "llama3", "linear"
  float factor = 1.0f;               // overall scaling factor
  float low_freq_factor = 1.0f;      // llama3: wavelengths above orig/low are scaled by factor
  float high_freq_factor = 4.0f;     // llama3: wavelengths below orig/high are kept
  int original_max_position = 8192;  // llama3: the context the base model was trained with
};

struct ArchConfig {
  std::string architecture;       // GGUF architecture name: "llama", "mistral", "qwen2", "qwen3"
  int n_layers = 0;               // transformer blocks
  int d_model = 0;                // hidden size (embedding width)
  int n_heads = 0;                // query heads
  int n_kv_heads = 0;             // key/value heads (GQA when < n_heads)
  int head_dim = 0;               // width of one head (qwen3 may have n_heads*head_dim != d_model)
  int d_ff = 0;                   // SwiGLU inner width
  int vocab_size = 0;             // rows of the token embedding
  int max_context = 0;            // trained context length
  float rms_eps = 1e-5f;          // RMSNorm epsilon
  float rope_theta = 10000.f;     // RoPE base frequency
  RopeScaling rope_scaling;       // optional frequency scaling
  bool rope_interleaved = false;  // q/k rows in llama.cpp's interleaved layout (see above)
  bool tied_embeddings = false;   // output projection reuses token_embd (no output.weight)
  bool qkv_bias = false;          // qwen2: attn_q/k/v have biases
  bool qk_norm = false;           // qwen3: per-head RMSNorm on q and k
  int bos_id = -1;                // beginning-of-sequence token, -1 if unknown
  int eos_id = -1;                // end-of-sequence token, -1 if unknown
  // Per-layer widths, for models whose blocks differ (llama.cpp's `deci` GGUFs, the output of
  // structured pruning). Empty: every layer has n_heads / n_kv_heads / d_ff. Otherwise each holds
  // n_layers entries and the scalars above hold the maximum over the layers, which sizes the
  // scratch buffers and the KV cache. Read them through heads(l), kv_heads(l) and ff(l).
  std::vector<int> layer_n_heads;     // query heads of each layer (0: an attention-free layer)
  std::vector<int> layer_n_kv_heads;  // key/value heads of each layer
  std::vector<int> layer_d_ff;        // SwiGLU inner width of each layer

  int heads(int l) const { return layer_n_heads.empty() ? n_heads : layer_n_heads[size_t(l)]; }
  int kv_heads(int l) const {
    return layer_n_kv_heads.empty() ? n_kv_heads : layer_n_kv_heads[size_t(l)];
  }
  int ff(int l) const { return layer_d_ff.empty() ? d_ff : layer_d_ff[size_t(l)]; }
  // True when every layer has the same widths (a plain `llama` GGUF can hold the model).
  bool uniform_widths() const;
  // Sets the per-layer widths (n_layers entries each) and the scalars to their maxima; when all
  // layers agree, stores the scalars only, so a uniform model has one representation.
  void set_layer_widths(std::vector<int> heads, std::vector<int> kv_heads, std::vector<int> ff);
};

// The architectures edgefit runs, for error messages: "llama, mistral, qwen2, qwen3".
const std::vector<std::string>& supported_architectures();
// Throws Error("unknown architecture 'X' (supported: …)") unless `arch` is supported.
void check_supported_architecture(const std::string& arch, const std::string& file);

struct ModelTensor {
  std::string name;          // GGUF-style name
  TensorView view;           // dtype, shape (outermost first) and bytes
  std::string source;        // file it was read from
  uint64_t file_offset = 0;  // byte offset of its data in that file
};

struct Model {
  ArchConfig config;                                    // hyperparameters
  std::vector<ModelTensor> tensors;                     // in source order
  std::string path;                                     // what the user passed (file or folder)
  std::string format;                                   // "gguf", "safetensors", "llama2c"
  std::vector<std::shared_ptr<const void>> keep_alive;  // mmaps / buffers the views point into

  const ModelTensor* find(const std::string& name) const;
  const ModelTensor& get(const std::string& name) const;  // throws Error naming the tensor
  // get(name), checked to be a [rows, cols] matrix: Error naming the tensor and both shapes.
  const ModelTensor& get_matrix(const std::string& name, int64_t rows, int64_t cols) const;
  void index();  // rebuild the name index
  int64_t n_params() const;
  uint64_t tensor_bytes() const;  // sum of tensor sizes

 private:
  std::map<std::string, size_t, std::less<>> by_name_;  // name → position in tensors
};

// Loads a model from a GGUF file, a Hugging Face folder (config.json + *.safetensors, sharded
// via model.safetensors.index.json), a single .safetensors file with a config.json beside it, or a
// llama2.c checkpoint (.bin). Weights stay memory-mapped. Throws Error on bad input.
Model load_model(const std::string& path);

}  // namespace edgefit
