// load_model(): picks the loader from what the path is, and builds the one Model representation.
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_arch.h"
#include "formats/hf_config.h"
#include "formats/llama2c.h"
#include "formats/model_check.h"
#include "formats/safetensors.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;

Model load_gguf_model(const std::string& path) {
  auto f = std::make_shared<GgufFile>(path);
  Model m;
  m.path = path;
  m.format = "gguf";
  m.config = arch_config_from_gguf(*f);
  for (const auto& t : f->tensors())
    m.tensors.push_back({t.name, f->view(t), path, f->data_offset() + t.offset});
  m.keep_alive.push_back(f);
  m.index();
  return m;
}

// The safetensors files of an HF folder: all shards named by model.safetensors.index.json, or
// model.safetensors alone.
std::vector<std::string> hf_weight_files(const fs::path& dir) {
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_file(index.string()));
    } catch (const nlohmann::json::exception& e) {
      throw Error(std::string("invalid JSON: ") + e.what(), index.string());
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      throw Error("index lacks 'weight_map'", index.string());
    std::set<std::string> shards;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        throw Error("weight_map['" + it.key() + "'] is not a file name", index.string());
      const std::string shard = it.value().get<std::string>();
      if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
        throw Error("weight_map names a file outside the folder: " + shard, index.string());
      shards.insert(shard);
    }
    std::vector<std::string> files;
    for (const auto& s : shards) files.push_back((dir / s).string());
    return files;
  }
  if (fs::exists(dir / "model.safetensors")) return {(dir / "model.safetensors").string()};
  throw Error("no model.safetensors or model.safetensors.index.json in the folder", dir.string());
}

Model load_hf_model(const fs::path& dir, std::vector<std::string> weight_files) {
  const fs::path cfg = dir / "config.json";
  if (!fs::exists(cfg)) throw Error("no config.json beside the weights", dir.string());
  Model m;
  m.path = dir.string();
  m.format = "safetensors";
  m.config = parse_hf_config(read_file(cfg.string()), cfg.string());
  for (const auto& wf : weight_files) {
    auto st = std::make_shared<SafetensorsFile>(wf);
    // Keep the file's own order (by offset) so inspect lists tensors as stored.
    for (const auto& e : st->tensors()) {
      auto name = hf_to_gguf_name(e.name);
      if (!name) {
        if (e.name.find("rotary_emb.inv_freq") != std::string::npos) continue;  // recomputed
        name = e.name;  // unknown extras are kept under their HF name
      }
      m.tensors.push_back({*name, st->view(e), wf, e.begin});
    }
    m.keep_alive.push_back(st);
  }
  m.index();
  return m;
}

// The loader for what `path` is; the Model is not yet checked.
Model load_unchecked(const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  if (!fs::exists(p, ec)) throw Error("no such file or folder", path);
  if (fs::is_directory(p, ec)) return load_hf_model(p, hf_weight_files(p));
  const std::string ext = p.extension().string();
  if (ext == ".safetensors") {
    const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    return load_hf_model(dir, {path});
  }
  // Sniff the magic rather than trusting the extension.
  char magic[4] = {};
  {
    MappedFile f(path);
    if (f.size() >= 4) std::memcpy(magic, f.data(), 4);
  }
  if (std::string_view(magic, 4) == "GGUF") return load_gguf_model(path);
  if (ext == ".bin") return load_llama2c(path);
  throw Error(
      "unrecognised model file (expected a GGUF, a safetensors file, a Hugging Face folder or a "
      "llama2.c .bin)",
      path);
}

}  // namespace

Model load_model(const std::string& path) {
  Model m = load_unchecked(path);
  check_model(m);  // every command gets a model whose tensors agree with its config
  return m;
}

}  // namespace edgefit
