#include "methods/synth_model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "core/progress.h"
#include "formats/gguf_arch.h"
#include "formats/gguf_writer.h"
#include "model/block_linears.h"
#include "quant/presets.h"
#include "quant/q_sparse.h"
#include "quant/quant_traits.h"

namespace edgefit {
namespace {

ArchConfig shape(const std::string& arch, int layers, int d, int ff, int heads, int kv,
                 int head_dim, int vocab, int ctx, float theta, bool tied, bool bias) {
  ArchConfig c;
  c.architecture = arch;
  c.n_layers = layers;
  c.d_model = d;
  c.d_ff = ff;
  c.n_heads = heads;
  c.n_kv_heads = kv;
  c.head_dim = head_dim;
  c.vocab_size = vocab;
  c.max_context = ctx;
  c.rope_theta = theta;
  c.rms_eps = 1e-5f;
  c.tied_embeddings = tied;
  c.qkv_bias = bias;
  c.rope_interleaved = arch == "llama";
  c.bos_id = 1;
  c.eos_id = 2;
  return c;
}

// Inputs per run whose kept count a sparse type bounds, as pruning into it chooses masks
// (prune/sparse_formats.h, sparse_mask_block(); methods cannot depend on prune): 2:4 groups of
// 4, q4_qmask62 runs of 32 (at most 12 kept, for its fast kernel), whole 256-blocks otherwise.
size_t synth_mask_run(DType type) {
  if (type == DType::Q4_2OF4) return 4;
  return type == DType::Q4_QMASK62 ? 32 : static_cast<size_t>(kSparseBlock);
}

// Weight rows are drawn from a small pool of pre-quantized random rows (N(0, 0.02²) before
// quantization): real block contents at a fraction of the cost of quantizing a billion weights.
// Zeroes the smallest magnitudes of every run (synth_mask_run) so that exactly kept_per_block
// stay in each 256-block, run k of a block keeping its cumulative share
// floor(kept·(k+1)/R) − floor(kept·k/R) of the R runs (2:4: 2 per group; q4_qmask62 at 96: 12
// per 32, at 76: 9 or 10).
void prune_by_magnitude(DType type, int kept_per_block, std::vector<float>& w) {
  const size_t unit = synth_mask_run(type), runs = static_cast<size_t>(kSparseBlock) / unit;
  const size_t kept = static_cast<size_t>(kept_per_block);
  std::vector<size_t> order(unit);
  for (size_t base = 0; base + unit <= w.size(); base += unit) {
    const size_t k = base / unit % runs, keep = kept * (k + 1) / runs - kept * k / runs;
    for (size_t i = 0; i < unit; ++i) order[i] = i;
    std::nth_element(order.begin(), order.begin() + keep, order.end(), [&](size_t a, size_t b) {
      return std::fabs(w[base + a]) > std::fabs(w[base + b]);
    });
    for (size_t i = keep; i < unit; ++i) w[base + order[i]] = 0.f;
  }
}

class RowPool {
 public:
  // kept_per_block: for the sparse types, the nonzeros each 256-block keeps (by magnitude).
  RowPool(DType type, int64_t row_len, std::mt19937_64& rng, int kept_per_block = 0)
      : row_bytes_(quant_row_size(type, row_len)) {
    std::normal_distribution<float> normal(0.f, 0.02f);
    std::vector<float> src(static_cast<size_t>(kRows * row_len));
    for (float& v : src) v = normal(rng);
    if (is_sparse_dtype(type)) prune_by_magnitude(type, kept_per_block, src);
    bytes_.resize(kRows * row_bytes_);
    quantize_tensor(type, src.data(), kRows, row_len, bytes_.data(), nullptr);
  }
  const uint8_t* row(uint64_t r) const { return bytes_.data() + (r % kRows) * row_bytes_; }
  size_t row_bytes() const { return row_bytes_; }

 private:
  static constexpr int64_t kRows = 64;  // distinct rows per (type, row length)
  size_t row_bytes_;                    // bytes of one quantized row
  std::vector<uint8_t> bytes_;          // kRows quantized rows
};

}  // namespace

const std::vector<SynthShape>& synth_shapes() {
  static const std::vector<SynthShape> shapes = {
      {"tinyllama-1.1b",
       shape("llama", 22, 2048, 5632, 32, 4, 64, 32000, 2048, 10000.f, false, false)},
      {"llama-3.2-1b",
       shape("llama", 16, 2048, 8192, 32, 8, 64, 128256, 131072, 500000.f, true, false)},
      {"qwen2.5-0.5b",
       shape("qwen2", 24, 896, 4864, 14, 2, 64, 151936, 32768, 1000000.f, true, true)},
      {"llama-2-7b",
       shape("llama", 32, 4096, 11008, 32, 32, 128, 32000, 4096, 10000.f, false, false)},
  };
  return shapes;
}

const SynthShape& find_synth_shape(const std::string& name) {
  std::string names;
  for (const auto& s : synth_shapes()) {
    if (s.name == name) return s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  throw UsageError("unknown --like '" + name + "' (known: " + names + ")");
}

SynthSparsity synth_sparse_type(const std::string& sparsity, const std::string& sparse_type) {
  if (sparsity == "2:4") {
    if (!sparse_type.empty() && dtype_from_name(sparse_type) != DType::Q4_2OF4)
      throw UsageError("--sparsity 2:4 is stored as q4_2of4, not --sparse-type " + sparse_type);
    return {DType::Q4_2OF4, 128};
  }
  size_t used = 0;
  double f = -1;
  try {
    f = std::stod(sparsity, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != sparsity.size() || !(f >= 0.5 && f < 1))
    throw UsageError("--sparsity wants 2:4 or a fraction in [0.5, 1), got '" + sparsity + "'");
  DType type = f == 0.5 ? DType::Q4_MASK50 : DType::Q4_QMASK62;
  if (!sparse_type.empty()) {
    const auto t = dtype_from_name(sparse_type);
    if (t != DType::Q4_MASK50 && t != DType::Q4_MASK62 && t != DType::Q4_QMASK62)
      throw UsageError(
          "--sparse-type wants q4_mask50, q4_mask62 or q4_qmask62 with a fraction, got '" +
          sparse_type + "'");
    type = *t;
  }
  const int capacity =
      type == DType::Q4_MASK50 ? BlockQ4_Mask50::capacity : BlockQ4_QMask62::capacity;
  const int kept = 256 - static_cast<int>(std::ceil(256 * f));
  return {type, std::min(kept, capacity)};
}

uint64_t write_synth_model(const std::string& path, const SynthOptions& o) {
  ArchConfig c = find_synth_shape(o.like).config;
  if (o.n_layers > 0) c.n_layers = o.n_layers;
  const QuantPreset* preset = find_quant_preset(o.type);
  if (!preset)
    throw UsageError("unknown --type '" + o.type + "' (known: " + quant_preset_names() + ")");
  const bool sparse = !o.sparsity.empty();
  if (!sparse && !o.sparse_type.empty()) throw UsageError("--sparse-type needs --sparsity");
  const SynthSparsity sp =
      sparse ? synth_sparse_type(o.sparsity, o.sparse_type) : SynthSparsity{DType::F32, 0};

  // Tensors in llama.cpp's order, with HF-equivalent shapes (ne innermost first).
  const uint64_t d = c.d_model, ff = c.d_ff, q = uint64_t(c.n_heads) * c.head_dim,
                 kv = uint64_t(c.n_kv_heads) * c.head_dim, V = c.vocab_size;
  std::vector<TensorDesc> descs;
  descs.push_back({"token_embd.weight", {d, V}, DType::F32});
  descs.push_back({"output_norm.weight", {d}, DType::F32});
  if (!c.tied_embeddings) descs.push_back({"output.weight", {d, V}, DType::F32});
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    descs.push_back({p + "attn_norm.weight", {d}, DType::F32});
    descs.push_back({p + "attn_q.weight", {d, q}, DType::F32});
    descs.push_back({p + "attn_k.weight", {d, kv}, DType::F32});
    descs.push_back({p + "attn_v.weight", {d, kv}, DType::F32});
    if (c.qkv_bias) {
      descs.push_back({p + "attn_q.bias", {q}, DType::F32});
      descs.push_back({p + "attn_k.bias", {kv}, DType::F32});
      descs.push_back({p + "attn_v.bias", {kv}, DType::F32});
    }
    descs.push_back({p + "attn_output.weight", {q, d}, DType::F32});
    descs.push_back({p + "ffn_norm.weight", {d}, DType::F32});
    descs.push_back({p + "ffn_gate.weight", {d, ff}, DType::F32});
    descs.push_back({p + "ffn_up.weight", {d, ff}, DType::F32});
    descs.push_back({p + "ffn_down.weight", {ff, d}, DType::F32});
  }
  TypeChoiceOptions tco;
  tco.preset = preset;
  const auto choices =
      choose_tensor_types(descs, {gguf_arch_name(c), c.n_layers, c.n_heads, c.n_kv_heads}, tco);

  GgufWriter w;
  for (auto& kv_pair : arch_config_to_gguf(c)) w.set(kv_pair.key, kv_pair.value);
  w.set("general.name", GgufValue::make_string("edgefit synth " + o.like + " " + o.type));
  w.set("general.file_type", GgufValue::make_u32(preset->ftype));
  w.set("general.quantization_version", GgufValue::make_u32(2));
  w.set("edgefit.synth", GgufValue::make_string(o.like));
  if (sparse) w.set("edgefit.synth.sparsity", GgufValue::make_string(o.sparsity));
  // A dummy SentencePiece-style vocabulary of the real size: <unk> <s> </s>, the 256 byte
  // tokens, then placeholders.
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (uint64_t i = 0; i < V; ++i) {
    char buf[32];
    if (i == 0)
      tokens.push_back("<unk>"), types.push_back(2);
    else if (i == 1)
      tokens.push_back("<s>"), types.push_back(3);
    else if (i == 2)
      tokens.push_back("</s>"), types.push_back(3);
    else if (i < 259)
      std::snprintf(buf, sizeof buf, "<0x%02X>", static_cast<unsigned>(i - 3)),
          tokens.push_back(buf), types.push_back(6);
    else
      std::snprintf(buf, sizeof buf, "\xe2\x96\x81t%llu", static_cast<unsigned long long>(i)),
          tokens.push_back(buf), types.push_back(1);
    scores.push_back(-static_cast<float>(i));
  }
  w.set("tokenizer.ggml.model", GgufValue::make_string("llama"));
  w.set("tokenizer.ggml.tokens", GgufValue::make_string_array(tokens));
  w.set("tokenizer.ggml.scores", GgufValue::make_f32_array(scores));
  w.set("tokenizer.ggml.token_type", GgufValue::make_i32_array(types));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::make_u32(1));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::make_u32(2));
  w.set("tokenizer.ggml.unknown_token_id", GgufValue::make_u32(0));

  std::mt19937_64 rng(o.seed);
  std::map<std::pair<DType, uint64_t>, std::unique_ptr<RowPool>> pools;
  auto progress =
      std::make_shared<Progress>("synth " + o.like + " " + o.type, descs.size(), "tensors");
  if (!o.progress) Progress::set_quiet(true);
  for (size_t k = 0; k < descs.size(); ++k) {
    const TensorDesc& t = descs[k];
    DType type = choices[k].quantizable ? choices[k].type : DType::F32;
    if (sparse && is_block_linear_weight(t.name)) type = sp.type;
    auto& pool = pools[{type, t.ne[0]}];
    if (!pool)
      pool = std::make_unique<RowPool>(type, static_cast<int64_t>(t.ne[0]), rng, sp.kept_per_block);
    const bool is_vector = t.ne.size() == 1;                                    // norm gain or bias
    const float fill = t.name.find("norm") != std::string::npos ? 1.0f : 0.0f;  // gains 1, biases 0
    const uint64_t rows = t.ne.size() > 1 ? t.ne[1] : 1;
    const RowPool* rp = pool.get();
    const uint64_t seed = rng();
    w.add_tensor({t.name, type, t.ne,
                  [rp, rows, seed, is_vector, fill, progress, n = t.ne[0]](AtomicFileWriter& out) {
                    if (is_vector) {
                      const std::vector<float> values(static_cast<size_t>(n), fill);
                      out.write(values.data(), values.size() * 4);
                    } else {
                      uint64_t state = seed | 1;
                      for (uint64_t r = 0; r < rows; ++r) {
                        state ^= state << 13, state ^= state >> 7,
                            state ^= state << 17;  // xorshift64
                        out.write(rp->row(state), rp->row_bytes());
                      }
                    }
                    progress->advance();
                  }});
  }
  w.write(path);
  progress->finish();
  if (!o.progress) Progress::set_quiet(false);
  return std::filesystem::file_size(path);
}

}  // namespace edgefit
