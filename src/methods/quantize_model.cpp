// quantize_model(): plan the per-tensor types and the metadata, then stream the tensors into a
// GGUF one at a time (see quantize_model.h for the rules followed).
#include "methods/quantize_model.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/output_path.h"
#include "core/progress.h"
#include "core/strings.h"
#include "formats/gguf_arch.h"
#include "formats/gguf_writer.h"
#include "formats/hf_config.h"
#include "formats/model.h"
#include "formats/qk_permute.h"
#include "methods/finite_weights.h"
#include "methods/imatrix_file.h"
#include "quant/quant_traits.h"
#include "tokenizer/tokenizer.h"

#ifndef EDGEFIT_VERSION
#define EDGEFIT_VERSION "unknown"
#endif

namespace edgefit {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION, written by every llama-quantize

// The opened input and what the planner derived from it.
struct Source {
  Model model;                     // tensors (GGUF names) and config
  std::unique_ptr<GgufFile> gguf;  // the input's metadata when it is a GGUF
  bool permute_qk = false;         // HF llama-family: attn_q/attn_k rows go HF → GGUF layout
};

// A tensor's extents innermost first, with trailing 1s dropped as ggml_n_dims does.
std::vector<uint64_t> gguf_ne(const TensorView& v) {
  std::vector<uint64_t> ne;
  for (int i = v.ndim - 1; i >= 0; --i) ne.push_back(static_cast<uint64_t>(v.shape[i]));
  while (ne.size() > 1 && ne.back() == 1) ne.pop_back();
  if (ne.empty()) ne.push_back(1);
  return ne;
}

// general.name for an HF folder: its name, or its parent's when the folder is just called "hf".
std::string hf_model_name(const std::string& path) {
  fs::path p = fs::absolute(fs::path(path)).lexically_normal();
  if (!fs::is_directory(p)) p = p.parent_path();
  if (p.filename().empty()) p = p.parent_path();
  std::string name = p.filename().string();
  const std::string lower = ascii_lower(name);
  if ((lower == "hf" || lower == "huggingface") && p.has_parent_path())
    name = p.parent_path().filename().string();
  return name;
}

// `model` is `input` as the caller loaded it (a copy of its tensor list; the mapped pages are
// shared).
Source open_source(Model model, const std::string& input) {
  Source s;
  s.model = std::move(model);
  if (s.model.format == "gguf") s.gguf = std::make_unique<GgufFile>(input);
  s.permute_qk = !s.model.config.rope_interleaved && gguf_arch_name(s.model.config) == "llama";
  return s;
}

void set_last(std::vector<GgufKV>& kvs, const std::string& key, GgufValue v) {
  std::erase_if(kvs, [&](const GgufKV& kv) { return kv.key == key; });
  kvs.push_back({key, std::move(v)});
}

void set_or_append(std::vector<GgufKV>& kvs, const std::string& key, GgufValue v) {
  for (auto& kv : kvs)
    if (kv.key == key) {
      kv.value = std::move(v);
      return;
    }
  kvs.push_back({key, std::move(v)});
}

std::vector<GgufKV> plan_metadata(const Source& s, const std::string& input,
                                  const QuantPreset& preset, const QuantizeOptions& o) {
  std::vector<GgufKV> kvs;
  if (s.gguf) {
    for (const auto& kv : s.gguf->kvs()) {
      if (kv.key.starts_with("edgefit.") || kv.key.starts_with("quantize.imatrix.")) continue;
      kvs.push_back(kv);
    }
  } else {
    if (s.model.format != "safetensors")
      throw Error("quantizing a " + s.model.format +
                      " checkpoint is not supported; convert it to GGUF first",
                  input);
    kvs = arch_config_to_gguf(s.model.config);
    kvs.insert(kvs.begin() + 1, {"general.type", GgufValue::make_string("model")});
    kvs.insert(kvs.begin() + 2, {"general.name", GgufValue::make_string(hf_model_name(input))});
    const fs::path dir = fs::is_directory(input) ? fs::path(input) : fs::path(input).parent_path();
    std::unique_ptr<Tokenizer> tok;
    try {
      // convert_hf_to_gguf.py reads a SentencePiece tokenizer.model first when there is one (its
      // scores are what llama.cpp's SPM merges by); tokenizer.json only has merge ranks.
      const fs::path spm = dir / "tokenizer.model";
      tok = load_tokenizer(fs::exists(spm) ? spm.string() : dir.string());
    } catch (const Error& e) {
      throw Error(
          "an HF export needs the model's tokenizer (tokenizer.json or tokenizer.model) in its "
          "folder: " +
              std::string(e.what()),
          input);
    }
    std::vector<GgufKV> tk = tokenizer_to_gguf_kv(*tok);
    // convert_hf_to_gguf's SpecialVocab takes special ids from tokenizer_config.json first and
    // fills the ones it lacks from config.json (e.g. Qwen's bos, which has no bos_token).
    auto has = [&](const char* key) {
      return std::any_of(tk.begin(), tk.end(), [&](const GgufKV& kv) { return kv.key == key; });
    };
    auto at = std::find_if(tk.begin(), tk.end(), [](const GgufKV& kv) {
      return kv.key == "tokenizer.ggml.add_bos_token";
    });
    const int vocab = s.model.config.vocab_size;
    for (const auto& [key, id] :
         {std::pair{"tokenizer.ggml.bos_token_id", s.model.config.bos_id},
          std::pair{"tokenizer.ggml.eos_token_id", s.model.config.eos_id}}) {
      if (!has(key) && id >= 0 && (vocab <= 0 || id < vocab)) {
        at = tk.insert(at, {key, GgufValue::make_u32(static_cast<uint32_t>(id))});
        ++at;
      }
    }
    for (auto& kv : tk) kvs.push_back(std::move(kv));
  }
  // llama-quantize: gguf_set_val_* removes a key and appends it again.
  set_last(kvs, "general.quantization_version", GgufValue::make_u32(kQuantizationVersion));
  set_last(kvs, "general.file_type", GgufValue::make_u32(preset.ftype));
  std::erase_if(kvs, [](const GgufKV& kv) {
    return kv.key == "split.no" || kv.key == "split.count" || kv.key == "split.tensors.count";
  });
  const std::string imatrix_file = fs::path(o.imatrix_path).filename().string();
  if (o.imatrix) {
    set_last(kvs, "quantize.imatrix.file", GgufValue::make_string(imatrix_file));
    if (!o.imatrix->datasets.empty())
      set_last(kvs, "quantize.imatrix.dataset",
               GgufValue::make_string(o.imatrix->datasets.front()));
    set_last(kvs, "quantize.imatrix.entries_count",
             GgufValue::make_i32(static_cast<int32_t>(o.imatrix->entries.size())));
    if (o.imatrix->chunk_count > 0)
      set_last(kvs, "quantize.imatrix.chunks_count",
               GgufValue::make_i32(static_cast<int32_t>(o.imatrix->chunk_count)));
  }
  if (o.provenance) {
    set_last(kvs, "edgefit.version", GgufValue::make_string(EDGEFIT_VERSION));
    set_last(kvs, "edgefit.method", GgufValue::make_string(o.method));
    set_last(kvs, "edgefit.preset", GgufValue::make_string(std::string(preset.name)));
    if (o.imatrix) {
      set_last(kvs, "edgefit.imatrix.file", GgufValue::make_string(imatrix_file));
      set_last(kvs, "edgefit.imatrix.datasets", GgufValue::make_string_array(o.imatrix->datasets));
      set_last(kvs, "edgefit.imatrix.entries",
               GgufValue::make_u32(static_cast<uint32_t>(o.imatrix->entries.size())));
      set_last(kvs, "edgefit.calibration.files", GgufValue::make_string_array(o.imatrix->datasets));
      set_last(kvs, "edgefit.calibration.chunks", GgufValue::make_u64(o.imatrix->chunk_count));
      if (const uint64_t tokens = o.imatrix->token_count())
        set_last(kvs, "edgefit.calibration.tokens", GgufValue::make_u64(tokens));
    }
  }
  for (const auto& kv : o.extra_metadata) set_or_append(kvs, kv.key, kv.value);
  return kvs;
}

// The internal plan: public QuantizePlan plus what writing needs per tensor.
struct TensorJob {
  const ModelTensor* src;             // input tensor
  QuantizedTensor out;                // its output description
  bool copy = false;                  // bytes pass through unchanged (same type)
  bool permute = false;               // q/k rows move HF → GGUF
  const float* importance = nullptr;  // imatrix column weights, or null
};

struct FullPlan {
  Source source;
  std::vector<TensorJob> jobs;  // output order
  std::vector<GgufKV> metadata;
  const QuantPreset* preset = nullptr;
};

FullPlan make_plan(Model model, const std::string& input, const QuantizeOptions& o) {
  FullPlan p;
  p.preset = find_quant_preset(o.preset);
  if (!p.preset)
    throw UsageError("unknown quantization type '" + o.preset +
                     "' (known: " + quant_preset_names() + ")");
  p.source = open_source(std::move(model), input);
  const Model& m = p.source.model;
  const bool from_gguf = p.source.gguf != nullptr;

  TypeChoiceOptions tc;
  tc.preset = p.preset;
  tc.pure = o.pure;
  tc.has_imatrix = o.imatrix != nullptr;
  tc.overrides = o.rules;
  for (const auto& spec : o.tensor_types) tc.overrides.push_back(parse_tensor_type_override(spec));
  tc.token_embedding_type = o.token_embedding_type;
  tc.output_tensor_type = o.output_tensor_type;

  std::vector<TensorDesc> descs;
  for (const auto& t : m.tensors) {
    if (!t.view.is_contiguous())
      throw Error("tensor '" + t.name + "' is not stored contiguously", t.source);
    if (!from_gguf && !gguf_to_hf_name(t.name))
      throw Error("tensor '" + t.name + "' has no GGUF counterpart; cannot export it", t.source);
    if (o.check_finite) check_finite_weights(t);  // float sources; quantized: as they dequantize
    descs.push_back({t.name, gguf_ne(t.view), t.view.dtype});
  }
  const ArchConfig& c = m.config;
  const std::vector<TensorTypeChoice> choices =
      choose_tensor_types(descs, {gguf_arch_name(c), c.n_layers, c.n_heads, c.n_kv_heads}, tc);

  if (o.imatrix) {
    std::set<std::string> names;
    for (const auto& t : m.tensors) names.insert(t.name);
    for (const auto& [name, e] : o.imatrix->entries)
      if (!names.count(name))
        throw Error("imatrix entry '" + name +
                        "' names no tensor of this model (is the imatrix for another model?)",
                    o.imatrix_path);
  }

  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const ModelTensor& t = m.tensors[i];
    TensorJob j;
    j.src = &t;
    j.out.name = t.name;
    j.out.ne = descs[i].ne;
    j.out.from = t.view.dtype;
    j.out.to = choices[i].type;
    j.out.note = choices[i].note;
    if (!choices[i].quantizable && !from_gguf) {
      // convert_hf_to_gguf writes norms, biases and other small tensors as F32.
      const DTypeInfo* info = dtype_info(t.view.dtype);
      if (info && !info->quantized && quant_traits(t.view.dtype)) j.out.to = DType::F32;
    }
    if (j.out.to != j.out.from && (!quant_traits(j.out.from) || !quant_traits(j.out.to)))
      throw Error("tensor '" + t.name + "': cannot convert " + std::string(dtype_name(j.out.from)) +
                      " to " + std::string(dtype_name(j.out.to)),
                  t.source);
    if (!dtype_info(j.out.to) || static_cast<uint32_t>(j.out.to) >= 1000)
      throw Error("tensor '" + t.name + "': type " + std::string(dtype_name(j.out.to)) +
                      " cannot be stored in GGUF",
                  t.source);
    j.copy = j.out.to == j.out.from;
    j.permute = p.source.permute_qk && is_qk_tensor(t.name);
    if (o.imatrix && !j.copy && choices[i].quantizable) {
      const auto it = o.imatrix->entries.find(t.name);
      if (it != o.imatrix->entries.end()) {
        if (it->second.mean_sq.size() == j.out.ne[0]) {
          j.importance = it->second.mean_sq.data();
        } else if (t.name != "token_embd.weight") {
          // llama-quantize ignores a mismatched token_embd entry and fails on any other.
          o.imatrix->find(t.name, j.out.ne[0]);  // throws the size error
        }
      }
      const QuantTraits* qt = quant_traits(j.out.to);
      j.out.used_imatrix = j.importance && qt && qt->uses_importance;
    }
    const auto bytes = dtype_bytes(j.out.to, j.out.numel());
    if (!bytes)
      throw Error("tensor '" + t.name + "': extents do not fit " +
                  std::string(dtype_name(j.out.to)));
    j.out.bytes = *bytes;
    p.jobs.push_back(std::move(j));
  }
  std::stable_sort(p.jobs.begin(), p.jobs.end(), [](const TensorJob& a, const TensorJob& b) {
    return llama_tensor_order_less(a.out.name, b.out.name);
  });
  p.metadata = plan_metadata(p.source, input, *p.preset, o);
  return p;
}

// Produces one tensor's output bytes and writes them (runs inside GgufWriter::write).
void write_tensor(const TensorJob& j, const ArchConfig& cfg, ThreadPool* pool,
                  AtomicFileWriter& w) {
  const TensorView& v = j.src->view;
  const int64_t row_len = static_cast<int64_t>(j.out.ne[0]);
  const int64_t n_rows = static_cast<int64_t>(j.out.numel() / j.out.ne[0]);
  // Biases are permuted element by element: each element is a "row" of the permutation.
  const bool is_bias = j.out.name.ends_with(".bias");
  if (j.copy) {
    if (!j.permute) {
      w.write(v.data, v.nbytes());
      return;
    }
    std::vector<uint8_t> buf(v.nbytes());
    const int64_t perm_rows = is_bias ? n_rows * row_len : n_rows;
    qk_permute_rows_hf_to_gguf(v.data, buf.data(), perm_rows, v.nbytes() / perm_rows, cfg.head_dim);
    w.write(buf.data(), buf.size());
    return;
  }
  std::vector<float> f32(static_cast<size_t>(n_rows * row_len));
  dequantize_tensor(v.dtype, v.data, n_rows, row_len, f32.data(), pool);
  if (const int64_t bad = first_non_finite(f32.data(), static_cast<int64_t>(f32.size())); bad >= 0)
    throw_non_finite(*j.src, bad, f32[static_cast<size_t>(bad)]);
  if (j.permute) {
    std::vector<float> tmp(f32.size());
    const int64_t perm_rows = is_bias ? n_rows * row_len : n_rows;
    qk_permute_rows_hf_to_gguf(f32.data(), tmp.data(), perm_rows, f32.size() * 4 / perm_rows,
                               cfg.head_dim);
    f32.swap(tmp);
  }
  std::vector<uint8_t> out(j.out.bytes);
  try {
    quantize_tensor(j.out.to, f32.data(), n_rows, row_len, out.data(), j.importance, pool);
  } catch (const Error& e) {  // e.g. a sparse type whose pattern the weights do not follow
    throw Error("tensor '" + j.out.name + "': " + e.message());
  }
  w.write(out.data(), out.size());
}

}  // namespace

QuantizePlan plan_quantization(const std::string& input, const QuantizeOptions& options) {
  return plan_quantization(load_model(input), input, options);
}

QuantizePlan plan_quantization(const Model& model, const std::string& input,
                               const QuantizeOptions& options) {
  FullPlan p = make_plan(model, input, options);
  QuantizePlan out;
  out.ftype = p.preset->ftype;
  out.metadata = p.metadata;
  for (const auto& j : p.jobs) out.tensors.push_back(j.out);
  return out;
}

QuantizeResult quantize_model(const std::string& input, const std::string& output,
                              const QuantizeOptions& options,
                              const std::function<void(const QuantizedTensor&)>& on_tensor) {
  check_output_not_input(output, {input});
  if (!options.sparsity.empty())  // rounding alone would silently drop the pruning
    throw Error(options.sparsity.front().source +
                ": pruning needs a pruning method (magnitude, wanda, sparsegpt)");
  return quantize_model(load_model(input), input, output, options, on_tensor);
}

QuantizeResult quantize_model(const Model& model, const std::string& input,
                              const std::string& output, const QuantizeOptions& options,
                              const std::function<void(const QuantizedTensor&)>& on_tensor) {
  check_output_not_input(output, {input});
  const auto start = std::chrono::steady_clock::now();
  FullPlan p = make_plan(model, input, options);

  GgufWriter w;
  if (p.source.gguf) w.set_alignment(p.source.gguf->alignment());
  for (const auto& kv : p.metadata) w.set(kv.key, kv.value);

  std::unique_ptr<Progress> progress;
  if (options.show_progress)
    progress = std::make_unique<Progress>("quantize", p.jobs.size(), "tensors");
  QuantizeResult r;
  r.ftype = p.preset->ftype;
  const ArchConfig& cfg = p.source.model.config;
  for (const auto& j : p.jobs) {
    w.add_tensor({j.out.name, j.out.to, j.out.ne,
                  [&j, &cfg, &options, &progress, &on_tensor](AtomicFileWriter& out) {
                    write_tensor(j, cfg, options.pool, out);
                    if (progress) progress->advance();
                    if (on_tensor) on_tensor(j.out);
                  }});
    r.tensors.push_back(j.out);
    r.n_params += j.out.numel();
    r.tensor_bytes += j.out.bytes;
    r.input_bytes += j.src->view.nbytes();
  }
  w.write(output);
  if (progress) progress->finish();
  r.file_bytes = fs::file_size(output);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace edgefit
