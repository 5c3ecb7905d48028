// Structured scoring pass and slicing (see structured_apply.h).
#include "prune/structured_apply.h"

#include <cstring>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/fp16.h"
#include "core/progress.h"
#include "formats/model_check.h"
#include "model/matmul.h"
#include "model/transformer.h"
#include "prune/structured_scores.h"

namespace edgefit {
namespace {

// All of a tensor's elements as F32, row-major.
std::vector<float> to_f32(const TensorView& v) {
  std::vector<float> out(static_cast<size_t>(v.numel()));
  const int64_t cols = v.row_size();
  for (int64_t r = 0; r < v.n_rows(); ++r) dequantize_row(v, r, out.data() + r * cols);
  return out;
}

// Rows [first, first + count) of each listed block of `block` rows, as index lists: the rows of
// kept heads (block = head_dim) or single channels (block = 1).
std::vector<int64_t> expand(const std::vector<int64_t>& units, int64_t block) {
  std::vector<int64_t> idx;
  for (const int64_t u : units)
    for (int64_t k = 0; k < block; ++k) idx.push_back(u * block + k);
  return idx;
}

// Builds model tensors that own their bytes.
class TensorSink {
 public:
  explicit TensorSink(Model& out) : out_(out) {}

  // Stores `values` ([rows, cols], or a vector when rows == 0) as `type` (F32/F16/BF16; any
  // other type is stored as F32).
  void add(const std::string& name, std::vector<float> values, int64_t rows, int64_t cols,
           DType type) {
    if (type != DType::F16 && type != DType::BF16) type = DType::F32;
    const size_t n = values.size();
    auto bytes = std::make_shared<std::vector<uint8_t>>(n * (type == DType::F32 ? 4 : 2));
    if (type == DType::F32) {
      std::memcpy(bytes->data(), values.data(), n * 4);
    } else {
      auto* h = reinterpret_cast<uint16_t*>(bytes->data());
      for (size_t i = 0; i < n; ++i)
        h[i] = type == DType::F16 ? fp32_to_fp16(values[i]) : fp32_to_bf16(values[i]);
    }
    const std::vector<int64_t> shape =
        rows > 0 ? std::vector<int64_t>{rows, cols} : std::vector<int64_t>{cols};
    ModelTensor t;
    t.name = name;
    t.view = TensorView::contiguous(type, shape, bytes->data());
    t.source = "(structured pruning)";
    out_.tensors.push_back(std::move(t));
    out_.keep_alive.push_back(std::move(bytes));
  }

 private:
  Model& out_;  // the model receiving the tensors
};

// Rows `rows` of a [r, c] matrix (or entries of a vector).
std::vector<float> take_rows(const std::vector<float>& w, int64_t cols,
                             const std::vector<int64_t>& rows) {
  std::vector<float> out;
  out.reserve(rows.size() * static_cast<size_t>(cols));
  for (const int64_t r : rows)
    out.insert(out.end(), w.begin() + r * cols, w.begin() + (r + 1) * cols);
  return out;
}

// Columns `keep` of a [rows, cols] matrix.
std::vector<float> take_cols(const std::vector<float>& w, int64_t rows, int64_t cols,
                             const std::vector<int64_t>& keep) {
  std::vector<float> out;
  out.reserve(static_cast<size_t>(rows) * keep.size());
  for (int64_t r = 0; r < rows; ++r)
    for (const int64_t c : keep) out.push_back(w[static_cast<size_t>(r * cols + c)]);
  return out;
}

// The tensor suffix after "blk.N.", or "" for a global tensor; sets `layer`.
std::string layer_suffix(const std::string& name, int& layer) {
  layer = -1;
  if (name.rfind("blk.", 0) != 0) return "";
  const size_t dot = name.find('.', 4);
  if (dot == std::string::npos) return "";
  layer = std::stoi(name.substr(4, dot - 4));
  return name.substr(dot + 1);
}

}  // namespace

std::vector<LayerScores> score_structured(const Model& model, const CalibrationWindows& cw,
                                          bool progress) {
  const ArchConfig& c = model.config;
  if (cw.windows.empty()) throw Error("structured scores: no calibration windows");
  const int64_t L = static_cast<int64_t>(cw.windows[0].size()), d = c.d_model;
  for (const auto& w : cw.windows)
    if (static_cast<int64_t>(w.size()) != L)
      throw Error("structured scores: calibration windows differ in length");
  for (int l = 0; l < c.n_layers; ++l)
    if (c.heads(l) == 0)
      throw Error("structured scores: layer " + std::to_string(l) + " is attention-free");
  Transformer t(model);
  KVCache cache = t.make_cache(L);
  // Σ_t x² per input channel of attn_output and ffn_down, per layer.
  std::vector<std::vector<double>> o_sq(static_cast<size_t>(c.n_layers)),
      down_sq(static_cast<size_t>(c.n_layers));
  std::vector<BlockInfluence> bi;
  for (int l = 0; l < c.n_layers; ++l) {
    o_sq[static_cast<size_t>(l)].assign(static_cast<size_t>(c.heads(l)) * c.head_dim, 0.0);
    down_sq[static_cast<size_t>(l)].assign(static_cast<size_t>(c.ff(l)), 0.0);
    bi.emplace_back(d);
  }
  int current = 0;  // the layer being run (the observer's names are checked against it)
  const std::string o_suffix = ".attn_output.weight", down_suffix = ".ffn_down.weight";
  const auto ends_with = [](const std::string& s, const std::string& e) {
    return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
  };
  t.set_activation_observer([&](const std::string& name, const float* x, int64_t n, int64_t w) {
    std::vector<double>* acc = nullptr;
    if (ends_with(name, o_suffix)) acc = &o_sq[static_cast<size_t>(current)];
    if (ends_with(name, down_suffix)) acc = &down_sq[static_cast<size_t>(current)];
    if (!acc || static_cast<int64_t>(acc->size()) != w) return;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < w; ++j)
        (*acc)[static_cast<size_t>(j)] += double(x[i * w + j]) * x[i * w + j];
  });
  const TensorView& emb = model.get("token_embd.weight").view;
  std::vector<float> hidden(static_cast<size_t>(L * d)), before(hidden.size());
  std::unique_ptr<Progress> bar;
  if (progress) bar = std::make_unique<Progress>("structured scores", cw.windows.size(), "windows");
  for (const auto& window : cw.windows) {
    for (int64_t i = 0; i < L; ++i) {
      const int32_t id = window[static_cast<size_t>(i)];
      if (id < 0 || id >= c.vocab_size)
        throw Error("structured scores: calibration token outside the vocabulary");
      dequantize_row(emb, id, hidden.data() + i * d);
    }
    cache.clear();
    for (int l = 0; l < c.n_layers; ++l) {
      current = l;
      before = hidden;
      t.forward_block(l, hidden.data(), L, cache);
      bi[static_cast<size_t>(l)].add(before.data(), hidden.data(), L);
    }
    if (bar) bar->advance();
  }
  if (bar) bar->finish();
  t.set_activation_observer({});
  std::vector<LayerScores> scores(static_cast<size_t>(c.n_layers));
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const HeadLayout layout{c.heads(l), c.kv_heads(l), c.head_dim};
    const auto w_o = to_f32(model.get(p + "attn_output.weight").view);
    const auto heads =
        query_head_scores(w_o.data(), d, o_sq[static_cast<size_t>(l)].data(), layout);
    LayerScores& s = scores[static_cast<size_t>(l)];
    s.kv_groups = kv_group_scores(heads, layout);
    const auto w_down = to_f32(model.get(p + "ffn_down.weight").view);
    s.ffn_channels =
        ffn_channel_scores(w_down.data(), d, c.ff(l), down_sq[static_cast<size_t>(l)].data());
    s.block_influence = bi[static_cast<size_t>(l)].value();
  }
  return scores;
}

Model slice_model(const Model& model, const StructuredKeep& keep) {
  const ArchConfig& c = model.config;
  Model out;
  out.config = structured_config(c, keep);  // checks the keep-lists
  out.path = model.path;
  out.format = model.format;
  std::vector<int> new_index(static_cast<size_t>(c.n_layers), -1);
  for (size_t i = 0; i < keep.layers.size(); ++i)
    new_index[static_cast<size_t>(keep.layers[i].source_layer)] = static_cast<int>(i);
  TensorSink sink(out);
  const int64_t hd = c.head_dim;
  for (const ModelTensor& t : model.tensors) {
    int l = -1;
    const std::string suffix = layer_suffix(t.name, l);
    if (l >= c.n_layers) throw Error("tensor '" + t.name + "' is beyond the model's layers");
    if (l >= 0 && new_index[static_cast<size_t>(l)] < 0) continue;  // a dropped block
    const TensorView& v = t.view;
    const int64_t rows = v.ndim == 2 ? v.shape[0] : 0, cols = v.row_size();
    std::vector<float> w = to_f32(v);
    const std::string name =
        l < 0 ? t.name : "blk." + std::to_string(new_index[static_cast<size_t>(l)]) + "." + suffix;
    if (l < 0) {
      sink.add(name, std::move(w), rows, cols, v.dtype);
      continue;
    }
    const LayerKeep& k = keep.layers[static_cast<size_t>(new_index[static_cast<size_t>(l)])];
    const int group = c.heads(l) / c.kv_heads(l);
    std::vector<int64_t> q_heads;
    for (const int64_t g : k.kv_groups)
      for (int j = 0; j < group; ++j) q_heads.push_back(g * group + j);
    const auto q_rows = expand(q_heads, hd), kv_rows = expand(k.kv_groups, hd);
    if (suffix == "attn_q.weight") {
      sink.add(name, take_rows(w, cols, q_rows), int64_t(q_rows.size()), cols, v.dtype);
    } else if (suffix == "attn_k.weight" || suffix == "attn_v.weight") {
      sink.add(name, take_rows(w, cols, kv_rows), int64_t(kv_rows.size()), cols, v.dtype);
    } else if (suffix == "attn_q.bias") {  // a vector: its entries are the rows
      sink.add(name, take_rows(w, 1, q_rows), 0, int64_t(q_rows.size()), v.dtype);
    } else if (suffix == "attn_k.bias" || suffix == "attn_v.bias") {
      sink.add(name, take_rows(w, 1, kv_rows), 0, int64_t(kv_rows.size()), v.dtype);
    } else if (suffix == "attn_output.weight") {
      sink.add(name, take_cols(w, rows, cols, q_rows), rows, int64_t(q_rows.size()), v.dtype);
    } else if (suffix == "ffn_gate.weight" || suffix == "ffn_up.weight") {
      sink.add(name, take_rows(w, cols, k.ffn_channels), int64_t(k.ffn_channels.size()), cols,
               v.dtype);
    } else if (suffix == "ffn_down.weight") {
      sink.add(name, take_cols(w, rows, cols, k.ffn_channels), rows, int64_t(k.ffn_channels.size()),
               v.dtype);
    } else {  // norms, q/k norms: per hidden channel or per head_dim, unchanged
      sink.add(name, std::move(w), rows, cols, v.dtype);
    }
  }
  out.index();
  check_model(out);
  return out;
}

Model mask_model(const Model& model, const StructuredKeep& keep) {
  const ArchConfig& c = model.config;
  check_structured_keep(keep, c);
  Model out;
  out.config = c;
  out.path = model.path;
  out.format = model.format;
  // Per source layer: the kept query heads and channels (empty for a dropped block).
  std::vector<const LayerKeep*> kept(static_cast<size_t>(c.n_layers), nullptr);
  for (const LayerKeep& k : keep.layers) kept[static_cast<size_t>(k.source_layer)] = &k;
  TensorSink sink(out);
  for (const ModelTensor& t : model.tensors) {
    int l = -1;
    const std::string suffix = layer_suffix(t.name, l);
    const TensorView& v = t.view;
    const int64_t rows = v.ndim == 2 ? v.shape[0] : 0, cols = v.row_size();
    std::vector<float> w = to_f32(v);
    const bool o = suffix == "attn_output.weight", down = suffix == "ffn_down.weight";
    if (l >= 0 && (o || down)) {
      std::vector<char> keep_col(static_cast<size_t>(cols), 0);
      if (const LayerKeep* k = kept[static_cast<size_t>(l)]) {
        const int group = c.heads(l) / c.kv_heads(l);
        if (o) {
          for (const int64_t g : k->kv_groups)
            for (int64_t j = g * group * c.head_dim; j < (g + 1) * group * c.head_dim; ++j)
              keep_col[static_cast<size_t>(j)] = 1;
        } else {
          for (const int64_t j : k->ffn_channels) keep_col[static_cast<size_t>(j)] = 1;
        }
      }
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j)
          if (!keep_col[static_cast<size_t>(j)]) w[static_cast<size_t>(r * cols + j)] = 0;
    }
    sink.add(t.name, std::move(w), rows, cols, DType::F32);
  }
  out.index();
  check_model(out);
  return out;
}

}  // namespace edgefit
