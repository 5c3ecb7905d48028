#include "model/lora_adapter.h"

#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "formats/qk_permute.h"
#include "model/matmul.h"

namespace edgefit {
namespace {

// The factor `t` as f32 [ne[1], ne[0]] (row-major), whatever its stored type.
std::vector<float> read_factor(const GgufFile& f, const GgufTensorInfo& t,
                               const std::string& path) {
  if (t.ne.size() != 2)
    throw Error("adapter tensor '" + t.name + "' is not 2-D", path, t.info_offset);
  if (!can_dequantize(t.type))
    throw Error("adapter tensor '" + t.name + "' has a type that cannot be read as f32", path,
                t.info_offset);
  const int64_t shape[2] = {static_cast<int64_t>(t.ne[1]), static_cast<int64_t>(t.ne[0])};
  const TensorView v = TensorView::contiguous(t.type, shape, f.tensor_data(t));
  std::vector<float> out(static_cast<size_t>(shape[0] * shape[1]));
  for (int64_t r = 0; r < shape[0]; ++r) dequantize_row(v, r, out.data() + r * shape[1]);
  return out;
}

// True when B's rows must move from the GGUF's interleaved q/k order to the model's HF order.
bool needs_row_permutation(const std::string& base_name, const ArchConfig& cfg) {
  return gguf_permutes_qk(cfg.architecture) && !cfg.rope_interleaved && is_qk_weight(base_name);
}

}  // namespace

LoraAdapter load_lora_adapter(const std::string& path, const Model& model, float user_scale) {
  GgufFile f(path);
  if (f.get_string_opt("general.type") != "adapter" || f.get_string_opt("adapter.type") != "lora")
    throw Error("not a LoRA adapter GGUF (general.type / adapter.type)", path);
  const std::string arch = f.get_string("general.architecture");
  if (arch != model.config.architecture)
    throw Error("adapter is for architecture '" + arch + "', the model is '" +
                    model.config.architecture + "'",
                path);
  LoraAdapter ad;
  ad.path = path;
  ad.alpha = static_cast<float>(f.get_double_opt("adapter.lora.alpha").value_or(0.0));
  // Pair the factors by base name first, then check each pair against the model.
  std::unordered_map<std::string, std::pair<const GgufTensorInfo*, const GgufTensorInfo*>> pairs;
  for (const GgufTensorInfo& t : f.tensors()) {
    if (t.name.ends_with(".lora_a"))
      pairs[t.name.substr(0, t.name.size() - 7)].first = &t;
    else if (t.name.ends_with(".lora_b"))
      pairs[t.name.substr(0, t.name.size() - 7)].second = &t;
    else
      throw Error("adapter tensor '" + t.name + "' is neither .lora_a nor .lora_b", path,
                  t.info_offset);
  }
  for (const auto& [name, ab] : pairs) {
    const auto [ta, tb] = ab;
    const GgufTensorInfo* any = ta ? ta : tb;
    if (!ta || !tb)
      throw Error("adapter weight '" + name + "' lacks its lora_a or lora_b", path,
                  any->info_offset);
    const ModelTensor* base = model.find(name);
    if (!base || base->view.ndim != 2)
      throw Error("adapter weight '" + name + "' is not a matrix of the model", path,
                  ta->info_offset);
    LoraWeight w;
    w.n_out = base->view.shape[0];
    w.n_in = base->view.shape[1];
    w.rank = ta->ne.size() == 2 ? static_cast<int64_t>(ta->ne[1]) : 0;
    const bool ok =
        ta->ne.size() == 2 && tb->ne.size() == 2 && ta->ne[0] == static_cast<uint64_t>(w.n_in) &&
        tb->ne[1] == static_cast<uint64_t>(w.n_out) && tb->ne[0] == ta->ne[1] && w.rank > 0;
    if (!ok)
      throw Error("adapter weight '" + name + "' has factors that do not fit the model's {" +
                      std::to_string(w.n_out) + ", " + std::to_string(w.n_in) + "}",
                  path, ta->info_offset);
    w.a = read_factor(f, *ta, path);
    w.b = read_factor(f, *tb, path);
    if (needs_row_permutation(name, model.config)) {
      std::vector<float> hf(w.b.size());
      qk_permute_rows_gguf_to_hf(w.b.data(), hf.data(), w.n_out,
                                 static_cast<uint64_t>(w.rank) * sizeof(float),
                                 model.config.head_dim);
      w.b = std::move(hf);
    }
    w.scale = ad.alpha != 0 ? user_scale * ad.alpha / static_cast<float>(w.rank) : user_scale;
    ad.weights.emplace(name, std::move(w));
  }
  return ad;
}

void apply_lora(const LoraWeight& w, const float* x, int64_t n_tokens, float* y) {
  const int64_t r = w.rank, n_in = w.n_in, n_out = w.n_out;
  ThreadPool::global().parallel_for(n_tokens, 1, [&](int64_t b, int64_t e) {
    std::vector<float> ax(static_cast<size_t>(r));
    for (int64_t t = b; t < e; ++t) {
      const float* xt = x + t * n_in;
      for (int64_t k = 0; k < r; ++k) {
        const float* ak = w.a.data() + k * n_in;
        float s = 0;
        for (int64_t i = 0; i < n_in; ++i) s += ak[i] * xt[i];
        ax[static_cast<size_t>(k)] = s * w.scale;
      }
      float* yt = y + t * n_out;
      for (int64_t o = 0; o < n_out; ++o) {
        const float* bo = w.b.data() + o * r;
        float s = 0;
        for (int64_t k = 0; k < r; ++k) s += bo[k] * ax[static_cast<size_t>(k)];
        yt[o] += s;
      }
    }
  });
}

}  // namespace edgefit
