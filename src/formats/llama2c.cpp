#include "formats/llama2c.h"

#include <cstring>

#include "core/error.h"

namespace edgefit {

Model load_llama2c(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  if (file->size() < 28) throw Error("truncated: llama2.c header needs 28 bytes", path, 0);
  int32_t h[7];
  std::memcpy(h, file->data(), sizeof h);
  const int32_t dim = h[0], hidden = h[1], n_layers = h[2], n_heads = h[3], n_kv = h[4];
  const bool shared_cls = h[5] > 0;
  const int64_t vocab = h[5] < 0 ? -static_cast<int64_t>(h[5]) : h[5];
  const int32_t seq_len = h[6];
  const char* names[] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                         "n_kv_heads", "vocab_size", "seq_len"};
  for (int k = 0; k < 7; ++k)
    if (h[k] == 0 || (k != 5 && (h[k] < 0 || h[k] > (1 << 20))))
      throw Error(std::string("llama2.c header field ") + names[k] + " = " + std::to_string(h[k]) +
                      " is out of range",
                  path, 4 * k);
  if (vocab > (1 << 24)) throw Error("llama2.c vocab_size is absurd", path, 20);
  if (dim % n_heads != 0 || n_heads % n_kv != 0)
    throw Error("llama2.c header: dim must divide by n_heads and n_heads by n_kv_heads", path, 0);
  const int64_t head = dim / n_heads, kv_dim = head * n_kv;

  Model m;
  m.path = path;
  m.format = "llama2c";
  ArchConfig& c = m.config;
  c.architecture = "llama";
  c.n_layers = n_layers;
  c.d_model = dim;
  c.d_ff = hidden;
  c.n_heads = n_heads;
  c.n_kv_heads = n_kv;
  c.head_dim = static_cast<int>(head);
  c.vocab_size = static_cast<int>(vocab);
  c.max_context = seq_len;
  c.rms_eps = 1e-5f;
  c.rope_theta = 10000.f;
  c.rope_interleaved = true;
  c.tied_embeddings = shared_cls;
  c.bos_id = 1;
  c.eos_id = 2;

  // Walk the weights in file order; each block is `count` float32 matrices of `shape`.
  uint64_t offset = 28;
  auto take = [&](const std::string& what, int64_t count, std::vector<int64_t> shape) -> uint64_t {
    int64_t per = 1;
    for (int64_t d : shape) per *= d;
    const uint64_t bytes = static_cast<uint64_t>(per) * count * 4;
    if (offset > file->size() || bytes > file->size() - offset)
      throw Error("truncated: " + what + " needs " + std::to_string(bytes) + " bytes", path,
                  offset);
    const uint64_t at = offset;
    offset += bytes;
    return at;
  };
  auto add = [&](const std::string& name, uint64_t at, std::vector<int64_t> shape) {
    m.tensors.push_back(
        {name, TensorView::contiguous(DType::F32, shape, file->data() + at), path, at});
  };
  auto per_layer = [&](const std::string& what, const std::string& gguf,
                       std::vector<int64_t> shape) {
    const uint64_t at = take(what, n_layers, shape);
    int64_t per = 1;
    for (int64_t d : shape) per *= d;
    for (int l = 0; l < n_layers; ++l)
      add("blk." + std::to_string(l) + "." + gguf, at + static_cast<uint64_t>(l) * per * 4, shape);
  };

  add("token_embd.weight", take("token embedding", 1, {vocab, dim}), {vocab, dim});
  per_layer("rms_att_weight", "attn_norm.weight", {dim});
  per_layer("wq", "attn_q.weight", {dim, dim});
  per_layer("wk", "attn_k.weight", {kv_dim, dim});
  per_layer("wv", "attn_v.weight", {kv_dim, dim});
  per_layer("wo", "attn_output.weight", {dim, dim});
  per_layer("rms_ffn_weight", "ffn_norm.weight", {dim});
  per_layer("w1", "ffn_gate.weight", {hidden, dim});
  per_layer("w2", "ffn_down.weight", {dim, hidden});
  per_layer("w3", "ffn_up.weight", {hidden, dim});
  add("output_norm.weight", take("rms_final_weight", 1, {dim}), {dim});
  take("freq_cis_real/imag", 2, {seq_len, head / 2});  // precomputed RoPE tables, unused
  if (!shared_cls) add("output.weight", take("classifier", 1, {vocab, dim}), {vocab, dim});
  if (offset != file->size())
    throw Error("llama2.c file has " + std::to_string(file->size() - offset) +
                    " unexpected trailing bytes (not a v0 checkpoint?)",
                path, offset);
  m.keep_alive.push_back(file);
  m.index();
  return m;
}

}  // namespace edgefit
