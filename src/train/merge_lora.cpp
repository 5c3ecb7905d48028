#include "train/merge_lora.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "quant/quant_traits.h"

namespace edgefit::train {
namespace {

// Rows rewritten per step: large enough to keep the pool busy, small enough that the f32 chunk
// (kChunkRows × row length floats) stays a few MB even for wide rows.
constexpr int64_t kChunkRows = 64;

// w[r, i] += s · Σ_k B[row0 + r, k] · A[k, i] for the chunk's rows.
void add_low_rank(const edgefit::LoraWeight& lw, int64_t row0, int64_t rows, float* w) {
  const int64_t n_in = lw.n_in, rank = lw.rank;
  ThreadPool::global().parallel_for(rows, 4, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* brow = lw.b.data() + (row0 + r) * rank;
      float* wr = w + r * n_in;
      for (int64_t k = 0; k < rank; ++k) {
        const float c = lw.scale * brow[k];
        const float* ak = lw.a.data() + k * n_in;
        for (int64_t i = 0; i < n_in; ++i) wr[i] += c * ak[i];
      }
    }
  });
}

// Streams tensor `t` of `f` with `lws` folded in to `out`, chunk by chunk.
void write_merged(const GgufFile& f, const GgufTensorInfo& t,
                  const std::vector<const edgefit::LoraWeight*>& lws, AtomicFileWriter& out) {
  const QuantTraits* q = quant_traits(t.type);
  const int64_t n_in = static_cast<int64_t>(t.ne[0]), n_rows = static_cast<int64_t>(t.ne[1]);
  const size_t row_bytes = quant_row_size(t.type, n_in);
  const uint8_t* src = f.tensor_data(t);
  std::vector<float> chunk(static_cast<size_t>(kChunkRows * n_in));
  std::vector<uint8_t> packed(static_cast<size_t>(kChunkRows) * row_bytes);
  for (int64_t row0 = 0; row0 < n_rows; row0 += kChunkRows) {
    const int64_t rows = std::min(kChunkRows, n_rows - row0);
    for (int64_t r = 0; r < rows; ++r)
      q->dequantize_row(src + static_cast<size_t>(row0 + r) * row_bytes, chunk.data() + r * n_in,
                        n_in);
    for (const edgefit::LoraWeight* lw : lws) add_low_rank(*lw, row0, rows, chunk.data());
    ThreadPool::global().parallel_for(rows, 1, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r)
        q->quantize_row(chunk.data() + r * n_in, packed.data() + static_cast<size_t>(r) * row_bytes,
                        n_in, nullptr);
    });
    out.write(packed.data(), static_cast<size_t>(rows) * row_bytes);
  }
}

// Writes tensor `t` with `lws` folded in, re-quantized by GPTQ with its input Hessian `h`.
void write_merged_gptq(const GgufFile& f, const GgufTensorInfo& t,
                       const std::vector<const edgefit::LoraWeight*>& lws,
                       const std::vector<float>& h, const GptqOptions& options,
                       AtomicFileWriter& out) {
  const QuantTraits* q = quant_traits(t.type);
  const int64_t n_in = static_cast<int64_t>(t.ne[0]), n_rows = static_cast<int64_t>(t.ne[1]);
  const size_t row_bytes = quant_row_size(t.type, n_in);
  const uint8_t* src = f.tensor_data(t);
  std::vector<float> w(static_cast<size_t>(n_rows * n_in));
  for (int64_t r = 0; r < n_rows; ++r)
    q->dequantize_row(src + static_cast<size_t>(r) * row_bytes, w.data() + r * n_in, n_in);
  for (const edgefit::LoraWeight* lw : lws) add_low_rank(*lw, 0, n_rows, w.data());
  const GptqResult g = gptq_quantize(w.data(), n_rows, n_in, h.data(), t.type, options);
  out.write(g.bytes.data(), g.bytes.size());
}

}  // namespace

bool gguf_is_gptq(const std::string& path, GptqOptions* options) {
  const GgufFile f(path);
  if (!f.find("edgefit.gptq.block_size")) return false;
  if (options) {
    options->block_size = static_cast<int>(f.get_int("edgefit.gptq.block_size"));
    if (auto d = f.get_double_opt("edgefit.gptq.damp")) options->percdamp = *d;
    if (const GgufValue* a = f.find("edgefit.gptq.act_order")) options->act_order = a->u != 0;
  }
  return true;
}

MergeStats merge_lora_gguf(const std::string& base_path,
                           const std::vector<edgefit::LoraAdapter>& adapters,
                           const std::string& out_path, const GptqMerge* gptq) {
  GgufFile f(base_path);
  GgufWriter w;
  w.set_alignment(f.alignment());
  for (const auto& kv : f.kvs()) w.set(kv.key, kv.value);
  MergeStats st;
  for (const GgufTensorInfo& t : f.tensors()) {
    std::vector<const edgefit::LoraWeight*> lws;
    for (const edgefit::LoraAdapter& a : adapters)
      if (auto it = a.weights.find(t.name); it != a.weights.end()) lws.push_back(&it->second);
    if (lws.empty()) {
      w.add_tensor(t.name, t.type, t.ne, f.tensor_data(t));
      ++st.copied;
      continue;
    }
    const QuantTraits* q = quant_traits(t.type);
    if (!q || !q->quantize_row || !q->dequantize_row || t.ne.size() != 2)
      throw Error("cannot re-quantize adapted tensor '" + t.name + "' to its type", base_path,
                  t.info_offset);
    for (const edgefit::LoraWeight* lw : lws)
      if (lw->n_in != static_cast<int64_t>(t.ne[0]) || lw->n_out != static_cast<int64_t>(t.ne[1]))
        throw Error("adapter for '" + t.name + "' does not fit the tensor's shape", base_path,
                    t.info_offset);
    const std::vector<float>* hess = nullptr;
    if (gptq && gptq_supports(t.type))
      if (auto it = gptq->hessians.find(t.name); it != gptq->hessians.end()) hess = &it->second;
    if (hess) {
      const auto width = static_cast<size_t>(t.ne[0]);
      if (hess->size() != width * width)
        throw Error("Hessian for '" + t.name + "' does not fit the tensor's width", base_path,
                    t.info_offset);
      w.add_tensor(
          GgufTensorSpec{t.name, t.type, t.ne, [&f, &t, lws, hess, gptq](AtomicFileWriter& out) {
                           write_merged_gptq(f, t, lws, *hess, gptq->options, out);
                         }});
      ++st.gptq;
    } else {
      w.add_tensor(GgufTensorSpec{t.name, t.type, t.ne, [&f, &t, lws](AtomicFileWriter& out) {
                                    write_merged(f, t, lws, out);
                                  }});
    }
    ++st.merged;
  }
  w.write(out_path);
  st.bytes = std::filesystem::file_size(out_path);
  return st;
}

}  // namespace edgefit::train
