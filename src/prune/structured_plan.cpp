// Structured pruning plans (see structured_plan.h).
#include "prune/structured_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>

#include "core/error.h"
#include "prune/keep_list.h"
#include "prune/sparsity_pattern.h"

namespace edgefit {
namespace {

double parse_fraction(const std::string& key, const std::string& value) {
  char* end = nullptr;
  const double f = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size())
    throw Error("structured spec: " + key + "='" + value + "' is not a number");
  if (!(f >= 0 && f < 1))
    throw Error("structured spec: " + key + "=" + value + " is outside [0, 1)");
  return f;
}

// floor(f · n) KV groups or channels (sparsity_pattern.h's rounding).
int64_t count_of(double f, int64_t n) {
  return prune_count(f, n);
}

// Channels to remove from a layer of n so that the kept count is a multiple of `align` (rounded
// up, at most n): never more than `wanted`.
int64_t aligned_removal(int64_t wanted, int64_t n, int align) {
  const int64_t kept = std::min(n, (n - wanted + align - 1) / align * align);
  return n - kept;
}

// ffn_global: the lowest-scoring channels over all kept layers, at least one left per layer.
std::vector<std::vector<int64_t>> select_global_ffn(const std::vector<LayerScores>& scores,
                                                    const std::vector<int64_t>& layers,
                                                    double fraction) {
  struct Unit {
    double score;   // energy of the channel
    size_t layer;   // position in `layers`
    int64_t index;  // channel
  };
  std::vector<Unit> all;
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& s = scores[static_cast<size_t>(layers[i])].ffn_channels;
    for (size_t j = 0; j < s.size(); ++j) {
      if (std::isnan(s[j]))
        throw Error("FFN channels: score of channel " + std::to_string(j) + " of layer " +
                    std::to_string(layers[i]) + " is not a number");
      all.push_back({s[j], i, static_cast<int64_t>(j)});
    }
  }
  // Lowest first; ties by layer, then channel: a strict order, so the result is unique.
  std::sort(all.begin(), all.end(), [](const Unit& a, const Unit& b) {
    if (a.score != b.score) return a.score < b.score;
    return a.layer != b.layer ? a.layer < b.layer : a.index < b.index;
  });
  std::vector<std::vector<char>> removed(layers.size());
  std::vector<int64_t> left(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const size_t n = scores[static_cast<size_t>(layers[i])].ffn_channels.size();
    removed[i].assign(n, 0);
    left[i] = static_cast<int64_t>(n);
  }
  int64_t to_remove = count_of(fraction, static_cast<int64_t>(all.size()));
  for (const Unit& u : all) {
    if (to_remove == 0) break;
    if (left[u.layer] == 1) continue;  // the layer's last channel stays
    removed[u.layer][static_cast<size_t>(u.index)] = 1;
    --left[u.layer];
    --to_remove;
  }
  std::vector<std::vector<int64_t>> keep(layers.size());
  for (size_t i = 0; i < layers.size(); ++i)
    for (size_t j = 0; j < removed[i].size(); ++j)
      if (!removed[i][j]) keep[i].push_back(static_cast<int64_t>(j));
  return keep;
}

}  // namespace

StructuredSpec parse_structured_spec(const std::string& text) {
  StructuredSpec s;
  s.text = text;
  if (text.empty()) throw Error("structured spec is empty (e.g. heads=0.25,ffn=0.25,layers=2)");
  std::vector<std::string> seen;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    pos = comma + 1;
    const size_t eq = item.find('=');
    if (eq == std::string::npos)
      throw Error("structured spec: '" + item +
                  "' is not key=value (heads, ffn, ffn_global, layers)");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (std::find(seen.begin(), seen.end(), key) != seen.end())
      throw Error("structured spec: " + key + " is given twice");
    seen.push_back(key);
    if (key == "heads") {
      s.heads = parse_fraction(key, value);
    } else if (key == "ffn") {
      s.ffn = parse_fraction(key, value);
    } else if (key == "ffn_global") {
      s.ffn_global = parse_fraction(key, value);
    } else if (key == "align") {
      char* end = nullptr;
      const long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || end != value.c_str() + value.size() || n < 1 || n > (1 << 20))
        throw Error("structured spec: align='" + value + "' is not a channel count >= 1");
      s.align = static_cast<int>(n);
    } else if (key == "layers") {
      char* end = nullptr;
      const long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || end != value.c_str() + value.size() || n < 0 || n > (1 << 20))
        throw Error("structured spec: layers='" + value + "' is not a block count >= 0");
      s.layers = static_cast<int>(n);
    } else {
      throw Error("structured spec: unknown key '" + key +
                  "' (heads, ffn, ffn_global, layers, align)");
    }
    if (comma == text.size()) break;
  }
  if (s.ffn > 0 && s.ffn_global > 0)
    throw Error("structured spec: ffn and ffn_global exclude each other (per layer or global)");
  return s;
}

StructuredKeep select_structured(const std::vector<LayerScores>& scores, const StructuredSpec& spec,
                                 const ArchConfig& c) {
  if (static_cast<int>(scores.size()) != c.n_layers)
    throw Error("structured scores: " + std::to_string(scores.size()) +
                " layers scored, the model has " + std::to_string(c.n_layers));
  if (spec.layers >= c.n_layers)
    throw Error("structured spec: layers=" + std::to_string(spec.layers) +
                " must be less than the model's " + std::to_string(c.n_layers) + " blocks");
  std::vector<double> bi;
  for (const auto& s : scores) bi.push_back(s.block_influence);
  const std::vector<int64_t> layers = select_keep(bi, spec.layers, "layers");
  std::vector<std::vector<int64_t>> global;
  if (spec.ffn_global > 0) global = select_global_ffn(scores, layers, spec.ffn_global);
  StructuredKeep keep;
  for (size_t i = 0; i < layers.size(); ++i) {
    const int l = static_cast<int>(layers[i]);
    const LayerScores& s = scores[static_cast<size_t>(l)];
    if (static_cast<int>(s.kv_groups.size()) != c.kv_heads(l) ||
        static_cast<int>(s.ffn_channels.size()) != c.ff(l))
      throw Error("structured scores of layer " + std::to_string(l) + " do not match its widths");
    LayerKeep k;
    k.source_layer = l;
    const std::string at = " of layer " + std::to_string(l);
    k.kv_groups = select_keep(s.kv_groups, count_of(spec.heads, c.kv_heads(l)), "KV groups" + at);
    // Per layer: floor(F · d_ff), or as many as the global ranking took from this layer; then
    // aligned, choosing within the layer by the same scores.
    const int64_t wanted = spec.ffn_global > 0 ? c.ff(l) - static_cast<int64_t>(global[i].size())
                                               : count_of(spec.ffn, c.ff(l));
    k.ffn_channels = select_keep(s.ffn_channels, aligned_removal(wanted, c.ff(l), spec.align),
                                 "FFN channels" + at);
    keep.layers.push_back(std::move(k));
  }
  return keep;
}

void check_structured_keep(const StructuredKeep& keep, const ArchConfig& c) {
  if (keep.layers.empty()) throw Error("structured keep-lists: no layer kept");
  for (size_t i = 0; i < keep.layers.size(); ++i) {
    const LayerKeep& k = keep.layers[i];
    if (k.source_layer < 0 || k.source_layer >= c.n_layers)
      throw Error("structured keep-lists: layers[" + std::to_string(i) +
                  "] = " + std::to_string(k.source_layer) + " is out of range [0, " +
                  std::to_string(c.n_layers) + ")");
    if (i > 0 && k.source_layer <= keep.layers[i - 1].source_layer)
      throw Error("structured keep-lists: layers[" + std::to_string(i) +
                  "] = " + std::to_string(k.source_layer) + " does not follow " +
                  std::to_string(keep.layers[i - 1].source_layer) + " in increasing order");
    const std::string at = " of layer " + std::to_string(k.source_layer);
    if (c.heads(k.source_layer) == 0)
      throw Error("structured keep-lists: layer " + std::to_string(k.source_layer) +
                  " is attention-free; structured pruning needs attention in every layer");
    check_keep_list(k.kv_groups, c.kv_heads(k.source_layer), "KV groups" + at);
    check_keep_list(k.ffn_channels, c.ff(k.source_layer), "FFN channels" + at);
  }
}

ArchConfig structured_config(const ArchConfig& c, const StructuredKeep& keep) {
  check_structured_keep(keep, c);
  ArchConfig out = c;
  out.n_layers = static_cast<int>(keep.layers.size());
  out.layer_n_heads.clear();
  out.layer_n_kv_heads.clear();
  out.layer_d_ff.clear();
  std::vector<int> heads, kv, ff;
  for (const LayerKeep& k : keep.layers) {
    const int group = c.heads(k.source_layer) / c.kv_heads(k.source_layer);
    kv.push_back(static_cast<int>(k.kv_groups.size()));
    heads.push_back(kv.back() * group);
    ff.push_back(static_cast<int>(k.ffn_channels.size()));
  }
  out.set_layer_widths(std::move(heads), std::move(kv), std::move(ff));
  return out;
}

}  // namespace edgefit
