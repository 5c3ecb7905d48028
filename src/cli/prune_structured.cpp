// Structured pruning from the command line (see prune_structured.h).
#include "cli/prune_structured.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "calib/calib_data.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/output_path.h"
#include "eval/context_window.h"
#include "eval/model_tokenizer.h"
#include "prune/structured_apply.h"
#include "prune/structured_export.h"

namespace edgefit::cli {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// Calibration files: each argument a text file, or a folder whose *.txt files are taken in name
// order (../shared/text/ntrex128/calib/ gives the twelve languages).
std::vector<std::string> expand_calib(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const std::string& a : args) {
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<std::string> in_dir;
      for (const auto& e : fs::directory_iterator(a))
        if (e.is_regular_file() && e.path().extension() == ".txt")
          in_dir.push_back(e.path().string());
      if (in_dir.empty()) throw Error("no .txt calibration files in the folder", a);
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else {
      files.push_back(a);
    }
  }
  return files;
}

// The keep-lists as JSON, one layer per line (thousands of channel indices stay readable).
std::string keep_to_json(const StructuredKeep& k, const std::string& spec) {
  std::string s = "{\"spec\": " + json(spec).dump() + ",\n \"layers\": [\n";
  for (size_t i = 0; i < k.layers.size(); ++i) {
    const LayerKeep& l = k.layers[i];
    const json row = {{"source_layer", l.source_layer},
                      {"kv_groups", l.kv_groups},
                      {"ffn_channels", l.ffn_channels}};
    s += "  " + row.dump() + (i + 1 < k.layers.size() ? ",\n" : "\n");
  }
  return s + " ]}\n";
}

// Reads --keep's JSON; errors name the file and field ("layers[2].kv_groups[0]").
StructuredKeep keep_from_json(const std::string& path, std::string& spec) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read the keep-lists", path);
  std::ostringstream text;
  text << in.rdbuf();
  json j;
  try {
    j = json::parse(text.str());
  } catch (const json::exception& e) {
    throw Error(std::string("keep-lists are not valid JSON: ") + e.what(), path);
  }
  if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array())
    throw Error("keep-lists: 'layers' must be a list", path);
  spec = j.contains("spec") && j["spec"].is_string() ? j["spec"].get<std::string>() : "keep-lists";
  StructuredKeep k;
  const auto ints = [&](const json& a, const std::string& field) {
    if (!a.is_array()) throw Error("keep-lists: " + field + " must be a list of indices", path);
    std::vector<int64_t> v;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_number_integer())
        throw Error("keep-lists: " + field + "[" + std::to_string(i) + "] is not an index", path);
      v.push_back(a[i].get<int64_t>());
    }
    return v;
  };
  for (size_t i = 0; i < j["layers"].size(); ++i) {
    const json& l = j["layers"][i];
    const std::string at = "layers[" + std::to_string(i) + "]";
    if (!l.is_object() || !l.contains("source_layer") || !l["source_layer"].is_number_integer() ||
        !l.contains("kv_groups") || !l.contains("ffn_channels"))
      throw Error("keep-lists: " + at + " needs source_layer, kv_groups and ffn_channels", path);
    LayerKeep lk;
    const int64_t src = l["source_layer"].get<int64_t>();
    if (src < 0 || src > (1 << 30))
      throw Error("keep-lists: " + at + ".source_layer " + std::to_string(src) + " is out of range",
                  path);
    lk.source_layer = static_cast<int>(src);
    lk.kv_groups = ints(l["kv_groups"], at + ".kv_groups");
    lk.ffn_channels = ints(l["ffn_channels"], at + ".ffn_channels");
    k.layers.push_back(std::move(lk));
  }
  return k;
}

bool is_folder_output(const std::string& out) {
  std::error_code ec;
  return out.ends_with('/') || fs::is_directory(out, ec);
}

std::string widths_line(const ArchConfig& c) {
  std::string s;
  for (int l = 0; l < c.n_layers; ++l)
    s += (l ? " | " : "") + std::to_string(c.heads(l)) + "/" + std::to_string(c.kv_heads(l)) +
         " heads, ffn " + std::to_string(c.ff(l));
  return s;
}

}  // namespace

void add_structured_prune_options(CLI::App& prune, StructuredPruneCli& o, bool with_calib) {
  prune.add_option("--structured", o.spec,
                   "structured pruning: heads=F (KV groups per layer), ffn=F (FFN channels per "
                   "layer) or ffn_global=F (ranked over all layers: per-layer widths), layers=N "
                   "(whole blocks by block influence), e.g. heads=0.25,ffn=0.25,layers=2");
  if (with_calib)
    prune.add_option("--calib", o.calib,
                     "calibration text files or folders of .txt (equal tokens per file)");
  prune.add_option("--calib-ctx", o.ctx,
                   "tokens per calibration window (default min(512, trained))");
  prune.add_option("--calib-windows", o.windows, "calibration windows in all (default 96)");
  prune.add_option("--hf-out", o.hf_out, "also write the pruned model as a Hugging Face folder");
  prune.add_option("--keep", o.keep_in,
                   "apply these keep-lists (JSON from --save-keep) instead of scoring");
  prune.add_option("--save-keep", o.keep_out, "write the chosen keep-lists as JSON");
  prune.add_flag("!--no-provenance", o.provenance, "no edgefit.* keys in the GGUF");
}

int run_structured_prune(const StructuredPruneCli& o, const std::string& model_path,
                         const std::string& out) {
  if (!o.spec.empty() && !o.keep_in.empty())
    throw UsageError("--structured and --keep exclude each other");
  if (o.keep_in.empty() && o.calib.empty())
    throw UsageError("--structured needs --calib (text files or a folder, one file per language)");
  if (o.windows < 1) throw UsageError("--calib-windows must be at least 1");
  if (o.ctx != 0 && o.ctx < 2) throw UsageError("--calib-ctx must be at least 2");
  const StructuredSpec spec = o.spec.empty() ? StructuredSpec{} : parse_structured_spec(o.spec);
  const std::vector<std::string> calib = expand_calib(o.calib);
  std::vector<std::string> inputs = {model_path, o.keep_in};
  inputs.insert(inputs.end(), calib.begin(), calib.end());
  for (const std::string& target : {out, o.hf_out, o.keep_out})
    if (!target.empty()) check_output_not_input(target, inputs);
  const Model model = load_model(model_path);
  StructuredKeep keep;
  std::string spec_text = spec.text;
  if (!o.keep_in.empty()) {
    keep = keep_from_json(o.keep_in, spec_text);
    try {
      check_structured_keep(keep, model.config);
    } catch (const Error& e) {
      throw Error(e.what(), o.keep_in);
    }
  } else {
    if (spec.layers >= model.config.n_layers)
      throw Error("--structured layers=" + std::to_string(spec.layers) +
                      " must be less than the model's " + std::to_string(model.config.n_layers) +
                      " blocks",
                  model_path);
    auto tok = load_model_tokenizer(model_path, "", model.config.vocab_size);
    CalibrationDraw draw;
    draw.files = calib;
    draw.ctx = resolve_context(o.ctx, model.config.max_context);
    draw.total_windows = o.windows;
    if (auto w = context_warning(draw.ctx, model.config.max_context, "--calib-ctx"))
      std::fprintf(stderr, "edgefit: warning: %s\n", w->c_str());
    const CalibrationWindows windows = draw_calibration_windows(*tok, draw);
    std::fprintf(stderr, "structured: scoring on %zu windows of %d tokens from %zu files\n",
                 windows.windows.size(), draw.ctx, calib.size());
    const auto scores = score_structured(model, windows, /*progress=*/true);
    keep = select_structured(scores, spec, model.config);
    std::string bi;
    for (const LayerScores& s : scores) bi += " " + std::to_string(s.block_influence).substr(0, 6);
    std::fprintf(stderr, "structured: block influence per layer:%s\n", bi.c_str());
  }
  std::string dropped;
  for (int l = 0, k = 0; l < model.config.n_layers; ++l) {
    if (k < static_cast<int>(keep.layers.size()) && keep.layers[size_t(k)].source_layer == l)
      ++k;
    else
      dropped += (dropped.empty() ? "" : ", ") + std::to_string(l);
  }
  if (!dropped.empty()) std::printf("structured: dropped blocks: %s\n", dropped.c_str());
  const Model pruned = slice_model(model, keep);
  const ArchConfig& c = pruned.config;
  StructuredExportInfo info;
  info.source = model_path;
  info.spec = spec_text;
  info.provenance = o.provenance;
  std::printf("structured: %s -> %d of %d blocks kept, %lld of %lld parameters (%s)\n",
              spec_text.c_str(), c.n_layers, model.config.n_layers,
              static_cast<long long>(pruned.n_params()), static_cast<long long>(model.n_params()),
              c.uniform_widths() ? "uniform widths" : "per-layer widths");
  std::printf("structured: widths per layer: %s\n", widths_line(c).c_str());
  if (!o.keep_out.empty()) {
    AtomicFileWriter w(o.keep_out);
    w.write(keep_to_json(keep, spec_text));
    w.commit();
  }
  if (is_folder_output(out)) {
    const uint64_t bytes = write_structured_hf(pruned, out, info);
    std::printf("structured: wrote %s (Hugging Face folder, %llu bytes)\n", out.c_str(),
                static_cast<unsigned long long>(bytes));
  } else {
    const uint64_t bytes = write_structured_gguf(pruned, out, info);
    std::printf("structured: wrote %s (GGUF '%s', %llu bytes)\n", out.c_str(),
                c.uniform_widths() ? "llama" : "deci", static_cast<unsigned long long>(bytes));
  }
  if (!o.hf_out.empty()) {
    const uint64_t bytes = write_structured_hf(pruned, o.hf_out, info);
    std::printf("structured: wrote %s (Hugging Face folder, %llu bytes)\n", o.hf_out.c_str(),
                static_cast<unsigned long long>(bytes));
  }
  return 0;
}

}  // namespace edgefit::cli
