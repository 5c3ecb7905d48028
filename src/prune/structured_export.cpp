// GGUF and Hugging Face export of a structurally pruned model (see structured_export.h).
#include "prune/structured_export.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/gguf_arch.h"
#include "formats/gguf_writer.h"
#include "formats/hf_config.h"
#include "formats/qk_permute.h"
#include "formats/safetensors.h"
#include "methods/quantize_model.h"

namespace edgefit {
namespace fs = std::filesystem;
namespace {

// The tensor's bytes with q/k rows moved to the other RoPE layout when `to_gguf` says which way;
// biases move element by element (each element is a row of the permutation).
std::shared_ptr<std::vector<uint8_t>> permuted(const ModelTensor& t, int64_t head_dim,
                                               bool to_gguf) {
  const TensorView& v = t.view;
  const int64_t rows = v.ndim == 2 ? v.shape[0] : v.numel();
  auto out = std::make_shared<std::vector<uint8_t>>(v.nbytes());
  if (to_gguf)
    qk_permute_rows_hf_to_gguf(v.data, out->data(), rows, v.nbytes() / rows, head_dim);
  else
    qk_permute_rows_gguf_to_hf(v.data, out->data(), rows, v.nbytes() / rows, head_dim);
  return out;
}

// general.file_type for the weights' type (llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32).
uint32_t file_type_of(const Model& m) {
  for (const ModelTensor& t : m.tensors)
    if (t.view.ndim == 2) {
      if (t.view.dtype == DType::F16) return 1;
      if (t.view.dtype == DType::BF16) return 32;
    }
  return 0;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error("cannot read file", p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

uint64_t write_structured_gguf(const Model& pruned, const std::string& output,
                               const StructuredExportInfo& info) {
  const ArchConfig& c = pruned.config;
  // The source's metadata as quantize writes it for an unquantized copy: tokenizer, general.*,
  // and (for an HF source) the keys convert_hf_to_gguf.py would write.
  QuantizeOptions qo;
  qo.preset = "f32";
  qo.provenance = false;
  qo.check_finite = false;
  const QuantizePlan plan = plan_quantization(info.source, qo);
  std::string source_arch;
  for (const GgufKV& kv : plan.metadata)
    if (kv.key == "general.architecture") source_arch = kv.value.str;
  GgufWriter w;
  bool arch_written = false;
  for (const GgufKV& kv : plan.metadata) {
    // The source architecture's keys give way to the pruned model's, written where
    // general.architecture stood.
    if (kv.key == "general.architecture" || kv.key.rfind(source_arch + ".", 0) == 0) {
      if (!arch_written)
        for (GgufKV& a : arch_config_to_gguf(c)) w.set(a.key, std::move(a.value));
      arch_written = true;
      continue;
    }
    if (kv.key == "general.file_type") {
      w.set(kv.key, GgufValue::make_u32(file_type_of(pruned)));
      continue;
    }
    w.set(kv.key, kv.value);
  }
  if (!arch_written)
    for (GgufKV& a : arch_config_to_gguf(c)) w.set(a.key, std::move(a.value));
  if (info.provenance) {
    w.set("edgefit.method", GgufValue::make_string("structured"));
    w.set("edgefit.structured.spec", GgufValue::make_string(info.spec));
  }
  const bool permute = gguf_permutes_qk(c.architecture) && !c.rope_interleaved;
  std::vector<std::shared_ptr<std::vector<uint8_t>>> owned;  // permuted copies, alive until write
  for (const ModelTensor& t : pruned.tensors) {
    const TensorView& v = t.view;
    std::vector<uint64_t> ne;
    for (int k = v.ndim - 1; k >= 0; --k) ne.push_back(static_cast<uint64_t>(v.shape[k]));
    const void* data = v.data;
    if (permute && is_qk_tensor(t.name)) {
      owned.push_back(permuted(t, c.head_dim, /*to_gguf=*/true));
      data = owned.back()->data();
    }
    w.add_tensor(t.name, v.dtype, ne, data);
  }
  w.write(output);
  return fs::file_size(output);
}

uint64_t write_structured_hf(const Model& pruned, const std::string& dir,
                             const StructuredExportInfo& info) {
  const ArchConfig& c = pruned.config;
  fs::path target = fs::absolute(fs::path(dir)).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "out/" names the folder "out"
  const fs::path parent = target.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  const fs::path tmp = parent / (target.filename().string() + ".edgefit-tmp-" +
                                 std::to_string(static_cast<long>(::getpid())));
  fs::remove_all(tmp, ec);
  if (!fs::create_directory(tmp, ec)) throw Error("cannot create folder", tmp.string());
  uint64_t bytes = 0;
  try {
    std::vector<SafetensorsTensorSpec> specs;
    std::vector<std::shared_ptr<std::vector<uint8_t>>> owned;
    for (const ModelTensor& t : pruned.tensors) {
      const auto hf = gguf_to_hf_name(t.name);
      if (!hf) continue;  // rope_freqs: HF computes it from the config
      const TensorView& v = t.view;
      const uint8_t* data = v.data;
      if (c.rope_interleaved && is_qk_tensor(t.name)) {
        owned.push_back(permuted(t, c.head_dim, /*to_gguf=*/false));
        data = owned.back()->data();
      }
      std::vector<int64_t> shape(v.shape.begin(), v.shape.begin() + v.ndim);
      const uint64_t n = v.nbytes();
      specs.push_back(
          {*hf, v.dtype, shape, [data, n](AtomicFileWriter& out) { out.write(data, n); }});
    }
    const std::map<std::string, std::string> meta = {{"format", "pt"}};
    write_safetensors((tmp / "model.safetensors").string(), specs, meta);
    // config.json: the source's own when it is an HF folder, so unrelated fields survive.
    std::string base;
    const fs::path src(info.source);
    const fs::path src_dir = fs::is_directory(src, ec) ? src : src.parent_path();
    if (pruned.format == "safetensors" && fs::exists(src_dir / "config.json", ec))
      base = read_text(src_dir / "config.json");
    AtomicFileWriter cfg((tmp / "config.json").string());
    cfg.write(arch_config_to_hf_json(c, base));
    cfg.commit();
    if (pruned.format == "safetensors")
      for (const char* f : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                            "special_tokens_map.json", "generation_config.json"})
        if (fs::exists(src_dir / f, ec)) fs::copy_file(src_dir / f, tmp / f);
    for (const auto& e : fs::directory_iterator(tmp))
      if (e.is_regular_file()) bytes += e.file_size();
    if (fs::exists(target, ec)) fs::remove_all(target);
    fs::rename(tmp, target);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    throw Error(std::string("cannot write the folder: ") + e.what(), target.string());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  return bytes;
}

}  // namespace edgefit
