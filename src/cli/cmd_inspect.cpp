// `edgefit inspect PATH [--json] [--sparsity]`: what a model file holds — architecture,
// hyperparameters, parameter count, every tensor (name, shape, dtype, bytes), total size and bits
// per weight. Reads only headers (weights stay unmapped-in), so it is instant on multi-GB files.
// --sparsity also reads every weight: the fraction of exact zeros per tensor (its dequantized
// values, so a pruned weight counts in any type that stores it as 0) — opt-in, since it reads
// the whole file.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_arch.h"
#include "formats/model.h"
#include "quant/quant_traits.h"
#include "quant/zero_fraction.h"

namespace edgefit::cli {
namespace {

namespace fs = std::filesystem;

struct InspectOptions {
  std::string path;       // model file or folder
  bool json = false;      // print one JSON object instead of tables
  bool sparsity = false;  // read every weight for its fraction of exact zeros
};

// Sum of the sizes of the files a model was read from.
uint64_t files_bytes(const std::set<std::string>& files) {
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& f : files) n += fs::file_size(f, ec);
  return n;
}

nlohmann::ordered_json config_scalars_json(const ArchConfig& c) {
  return {{"n_layers", c.n_layers},
          {"d_model", c.d_model},
          {"n_heads", c.n_heads},
          {"n_kv_heads", c.n_kv_heads},
          {"head_dim", c.head_dim},
          {"d_ff", c.d_ff},
          {"vocab_size", c.vocab_size},
          {"max_context", c.max_context},
          {"rms_eps", c.rms_eps},
          {"rope_theta", c.rope_theta},
          {"rope_scaling", c.rope_scaling.type},
          {"tied_embeddings", c.tied_embeddings},
          {"qkv_bias", c.qkv_bias},
          {"qk_norm", c.qk_norm},
          {"rope_interleaved", c.rope_interleaved}};
}

nlohmann::ordered_json config_json(const ArchConfig& c) {
  nlohmann::ordered_json j = config_scalars_json(c);
  if (!c.uniform_widths()) {  // per-layer widths (deci, structured pruning); scalars are maxima
    j["layer_n_heads"] = c.layer_n_heads;
    j["layer_n_kv_heads"] = c.layer_n_kv_heads;
    j["layer_d_ff"] = c.layer_d_ff;
  }
  return j;
}

// A GGUF whose architecture edgefit cannot run (vocab-only files, other families) is still shown.
struct Listing {
  std::string architecture;
  std::optional<ArchConfig> config;
  std::string config_error;  // why config is missing
  std::vector<std::tuple<std::string, TensorView>> tensors;
  std::vector<std::pair<std::string, std::string>> metadata;  // GGUF key → display
  std::string format;
  std::set<std::string> files;     // files the tensors come from (for the on-disk size)
  std::shared_ptr<GgufFile> gguf;  // keeps the tensors' mapping alive (--sparsity reads it)
  std::shared_ptr<Model> model;    // the same for the other formats
};

Listing list_model(const std::string& path) {
  Listing l;
  std::error_code ec;
  if (!fs::is_directory(path, ec) && fs::path(path).extension() != ".safetensors") {
    // Peek at the magic: GGUF files are listed straight from their header.
    MappedFile f(path);
    if (f.size() >= 4 && std::memcmp(f.data(), "GGUF", 4) == 0) {
      l.gguf = std::make_shared<GgufFile>(path);
      const GgufFile& g = *l.gguf;
      l.format = "gguf";
      l.files.insert(path);
      l.architecture = g.get_string_opt("general.architecture").value_or("?");
      try {
        l.config = arch_config_from_gguf(g);
      } catch (const Error& e) {
        l.config_error = e.message();
      }
      for (const auto& t : g.tensors()) l.tensors.emplace_back(t.name, g.view(t));
      for (const auto& kv : g.kvs()) l.metadata.emplace_back(kv.key, kv.value.to_display());
      return l;
    }
  }
  l.model = std::make_shared<Model>(load_model(path));
  const Model& m = *l.model;
  l.format = m.format;
  l.architecture = m.config.architecture;
  l.config = m.config;
  for (const auto& t : m.tensors) {
    l.tensors.emplace_back(t.name, t.view);
    l.files.insert(t.source);
  }
  if (l.files.empty()) l.files.insert(path);
  return l;
}

void run_inspect(const InspectOptions& o) {
  const Listing l = list_model(o.path);
  int64_t n_params = 0;
  uint64_t bytes = 0;
  for (const auto& [name, v] : l.tensors) {
    n_params += v.numel();
    bytes += v.nbytes();
  }
  const double bpw = n_params ? 8.0 * bytes / n_params : 0.0;
  const uint64_t file_bytes = files_bytes(l.files);
  std::vector<double> zeros;  // per tensor, with --sparsity
  if (o.sparsity)
    for (const auto& [name, v] : l.tensors) zeros.push_back(zero_fraction(v));

  if (o.json) {
    nlohmann::ordered_json j;
    j["path"] = o.path;
    j["format"] = l.format;
    j["architecture"] = l.architecture;
    if (l.config) j["config"] = config_json(*l.config);
    j["n_params"] = n_params;
    j["tensor_bytes"] = bytes;
    j["bits_per_weight"] = bpw;
    j["file_bytes"] = file_bytes;
    auto& ts = j["tensors"] = nlohmann::ordered_json::array();
    for (size_t i = 0; i < l.tensors.size(); ++i) {
      const auto& [name, v] = l.tensors[i];
      nlohmann::ordered_json t = {
          {"name", name},
          {"shape", std::vector<int64_t>(v.shape.begin(), v.shape.begin() + v.ndim)},
          {"dtype", dtype_name(v.dtype)},
          {"bytes", v.nbytes()}};
      if (o.sparsity)  // null where the type has no dequantizer
        t["sparsity"] = zeros[i] >= 0 ? nlohmann::ordered_json(zeros[i]) : nullptr;
      ts.push_back(std::move(t));
    }
    if (!l.metadata.empty()) {
      auto& md = j["metadata"] = nlohmann::ordered_json::object();
      for (const auto& [k, v] : l.metadata) md[k] = v;
    }
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }

  std::printf("%s (%s)\n", o.path.c_str(), l.format.c_str());
  std::printf("architecture: %s\n", l.architecture.c_str());
  if (l.config) {
    const ArchConfig& c = *l.config;
    std::printf(
        "layers %d, d_model %d, heads %d (kv %d, head_dim %d), d_ff %d, vocab %d, context %d\n",
        c.n_layers, c.d_model, c.n_heads, c.n_kv_heads, c.head_dim, c.d_ff, c.vocab_size,
        c.max_context);
    if (!c.uniform_widths()) {
      std::printf("per-layer widths (heads/kv, d_ff):");
      for (int l = 0; l < c.n_layers; ++l)
        std::printf(" %d/%d %d%s", c.heads(l), c.kv_heads(l), c.ff(l),
                    l + 1 < c.n_layers ? "," : "");
      std::printf("\n");
    }
    std::printf("rms_eps %g, rope_theta %g%s%s%s%s\n", c.rms_eps, c.rope_theta,
                c.tied_embeddings ? ", tied embeddings" : "", c.qkv_bias ? ", qkv bias" : "",
                c.qk_norm ? ", q/k norm" : "", c.rope_scaling.type.empty() ? "" : ", rope scaling");
  } else {
    std::printf("(hyperparameters unavailable: %s)\n", l.config_error.c_str());
  }
  if (!l.metadata.empty()) {
    std::printf("\nmetadata (%zu keys):\n", l.metadata.size());
    for (const auto& [k, v] : l.metadata) std::printf("  %-44s %s\n", k.c_str(), v.c_str());
  }
  std::printf("\n%-40s %-20s %-8s %12s%s\n", "tensor", "shape", "dtype", "bytes",
              o.sparsity ? "    zeros" : "");
  std::map<std::string, int> type_counts;
  for (size_t i = 0; i < l.tensors.size(); ++i) {
    const auto& [name, v] = l.tensors[i];
    std::printf("%-40s %-20s %-8s %12llu", name.c_str(), v.shape_string().c_str(),
                std::string(dtype_name(v.dtype)).c_str(),
                static_cast<unsigned long long>(v.nbytes()));
    if (o.sparsity && zeros[i] >= 0) std::printf("  %6.2f %%", 100.0 * zeros[i]);
    std::printf("\n");
    ++type_counts[std::string(dtype_name(v.dtype))];
  }
  std::printf("\n%zu tensors (", l.tensors.size());
  bool first = true;
  for (const auto& [t, n] : type_counts) {
    std::printf("%s%d %s", first ? "" : ", ", n, t.c_str());
    first = false;
  }
  std::printf("), %lld parameters (%.2f M)\n", static_cast<long long>(n_params), n_params / 1e6);
  std::printf("tensor data %.2f MiB, file %.2f MiB, %.3f bits per weight\n", bytes / 1048576.0,
              file_bytes / 1048576.0, bpw);
  if (!o.sparsity)
    for (const auto& [k, v] : l.metadata)
      if (k == "edgefit.prune.method")
        std::printf("pruned (%s): --sparsity shows the zeros per tensor\n", v.c_str());
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto opts = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand("inspect", "show a model's architecture, tensors and size");
  cmd->add_option("path", opts->path,
                  "GGUF file, Hugging Face folder, .safetensors or llama2.c .bin")
      ->required();
  cmd->add_flag("--json", opts->json, "print one JSON object");
  cmd->add_flag("--sparsity", opts->sparsity,
                "also the fraction of exact zeros per tensor (reads every weight)");
  cmd->callback([opts] { run_inspect(*opts); });
}

}  // namespace edgefit::cli
