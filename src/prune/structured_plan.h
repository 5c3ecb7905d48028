// What a structured pruning removes: the spec the user gives (`heads=0.25,ffn=0.25,layers=2`),
// the per-unit scores measured on calibration text (structured_scores.h), and the keep-lists
// chosen from them. Pure: numbers in, keep-lists out; structured_apply.h does the I/O.
//
// Choices (docs/pruning_structured.md):
// - heads=F removes floor(F · n_kv) KV groups in every layer (each with its query heads), so the
//   layers keep equal widths and the result stays a plain `llama` GGUF.
// - ffn=F removes floor(F · d_ff) FFN channels in every layer (equal widths, `llama`);
//   ffn_global=F removes floor(F · total) channels ranked across all kept layers by the same
//   energy score (comparable between layers: both are energies of contributions to the same
//   residual stream), so layers end with different widths and the GGUF is llama.cpp's `deci`.
//   Every layer keeps at least one channel.
// - align=N (default 32): each layer keeps a multiple of N FFN channels (rounded up, i.e. fewer
//   removed), because ffn_down's rows are d_ff long and quantized formats need whole blocks
//   (32 for Q8_0/Q4_0, 256 for the k-quants); align=1 keeps the exact fraction.
// - layers=N drops the N blocks with the lowest block influence (ShortGPT); the rest keep their
//   order, so the model stays `llama` with fewer blocks.
// All scores come from one pass over the unpruned model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "formats/model.h"

namespace edgefit {

struct StructuredSpec {
  double heads = 0;       // fraction of KV groups removed per layer, in [0, 1)
  double ffn = 0;         // fraction of FFN channels removed per layer, in [0, 1)
  double ffn_global = 0;  // fraction of FFN channels removed over all layers, in [0, 1)
  int layers = 0;         // whole blocks dropped, in [0, n_layers)
  int align = 32;         // kept FFN channels per layer rounded up to a multiple of this (capped
                          // at the layer's width), so rows stay whole quantization blocks
  std::string text;       // the spec as given, for metadata and messages
};

// Parses "heads=0.25,ffn=0.25,layers=2,align=32" (any subset, any order; ffn and ffn_global
// exclusive).
// Throws Error naming the field for an unknown key, a malformed or repeated value, a fraction
// outside [0, 1) or a negative layer count.
StructuredSpec parse_structured_spec(const std::string& text);

// Scores of one layer's units (low = removed first).
struct LayerScores {
  std::vector<double> kv_groups;     // per KV head, with its query heads
  std::vector<double> ffn_channels;  // per FFN channel
  double block_influence = 0;        // ShortGPT's BI of the whole block
};

// The units kept: sorted indices into the source model's.
struct LayerKeep {
  int source_layer = 0;               // block of the source model
  std::vector<int64_t> kv_groups;     // kept KV heads
  std::vector<int64_t> ffn_channels;  // kept FFN channels
};
struct StructuredKeep {
  std::vector<LayerKeep> layers;  // kept blocks in order (layer i of the output)
};

// Chooses the keep-lists for `spec` from `scores` (one entry per layer of `c`). Throws Error
// naming the field when the spec does not fit the model (layers >= n_layers).
StructuredKeep select_structured(const std::vector<LayerScores>& scores, const StructuredSpec& spec,
                                 const ArchConfig& c);

// Throws Error naming the layer and list unless every keep-list is valid for `c`: source layers
// strictly increasing in range, KV groups and FFN channels non-empty, increasing and in range.
void check_structured_keep(const StructuredKeep& keep, const ArchConfig& c);

// The output's config: `c` with the kept layers and their widths (per-layer when they differ).
ArchConfig structured_config(const ArchConfig& c, const StructuredKeep& keep);

}  // namespace edgefit
