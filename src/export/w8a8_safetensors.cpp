#include "export/w8a8_safetensors.h"

#include <map>

#include "core/error.h"
#include "formats/hf_config.h"
#include "formats/qk_permute.h"
#include "formats/safetensors.h"
#include "quant/quant_traits.h"

namespace edgefit {

void write_w8a8_safetensors(const Model& model, const QuantizePlan& plan,
                            const ProducedTensorBytes& produced, const std::string& path) {
  // Produced tensors hold q/k rows in the model's own layout; HF wants rotate-half order.
  const bool to_hf = model.config.rope_interleaved;
  std::vector<SafetensorsTensorSpec> specs;
  for (const auto& t : plan.tensors) {
    const bool is_scale = t.name.ends_with("_scale");
    const std::string base = is_scale ? t.name.substr(0, t.name.size() - 6) : t.name;
    const auto hf = gguf_to_hf_name(base);
    if (!hf)
      throw Error("tensor '" + base + "' has no Hugging Face name for the safetensors export");
    SafetensorsTensorSpec s;
    s.name = is_scale ? *hf + "_scale" : *hf;
    const uint64_t rows = t.ne.size() > 1 ? t.ne[1] : 1;
    if (is_scale) {
      s.dtype = DType::F32;
      s.shape = {static_cast<int64_t>(t.ne[0]), 1};
    } else {
      s.dtype = t.to == DType::I8 ? DType::I8 : (t.to == DType::F16 ? DType::F16 : DType::F32);
      s.shape = t.ne.size() > 1 ? std::vector<int64_t>{static_cast<int64_t>(rows),
                                                       static_cast<int64_t>(t.ne[0])}
                                : std::vector<int64_t>{static_cast<int64_t>(t.ne[0])};
    }
    const std::string name = t.name;
    const bool qk = is_qk_weight(base);  // weights and their scales; biases stay as they are
    const int64_t head_dim = model.config.head_dim;
    const DType out_type = s.dtype;
    const int64_t n_rows = is_scale ? static_cast<int64_t>(t.ne[0]) : static_cast<int64_t>(rows);
    const int64_t row_len = is_scale ? 1 : static_cast<int64_t>(t.ne[0]);
    s.write_data = [&produced, &model, name, qk, to_hf, head_dim, out_type, n_rows,
                    row_len](AtomicFileWriter& w) {
      std::vector<uint8_t> bytes;
      if (auto made = produced(name)) {
        bytes = std::move(*made);
      } else {
        const TensorView& v = model.get(name).view;
        std::vector<float> f32(static_cast<size_t>(n_rows * row_len));
        dequantize_tensor(v.dtype, v.data, n_rows, row_len, f32.data());
        bytes.resize(quant_row_size(out_type, row_len) * static_cast<size_t>(n_rows));
        quantize_tensor(out_type, f32.data(), n_rows, row_len, bytes.data(), nullptr);
      }
      if (to_hf && qk) {
        std::vector<uint8_t> tmp(bytes.size());
        qk_permute_rows_gguf_to_hf(bytes.data(), tmp.data(), n_rows,
                                   bytes.size() / static_cast<size_t>(n_rows), head_dim);
        bytes.swap(tmp);
      }
      w.write(bytes.data(), bytes.size());
    };
    specs.push_back(std::move(s));
  }
  std::map<std::string, std::string> meta = {
      {"format", "pt"},
      {"quantization",
       "w8a8-int8: weight int8 symmetric per-channel (weight_scale), "
       "activations int8 dynamic per-token; SmoothQuant by edgefit"}};
  write_safetensors(path, specs, meta);
}

}  // namespace edgefit
