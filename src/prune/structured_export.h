// Writing a structurally pruned Model (structured_apply.h's slice_model) as files others load:
// a GGUF that llama.cpp b4748 runs — `llama` when every layer has the same widths, `deci` (its
// per-layer feed_forward_length / attention.head_count / attention.head_count_kv arrays) when
// they differ — and a Hugging Face folder (safetensors + config.json, per-layer widths as
// formats/hf_config.h describes). Both appear whole or not at all.
#pragma once

#include <cstdint>
#include <string>

#include "formats/model.h"

namespace edgefit {

struct StructuredExportInfo {
  std::string source;      // the unpruned model's path (tokenizer and metadata come from it)
  std::string spec;        // the structured spec, recorded as edgefit.structured.spec
  bool provenance = true;  // write edgefit.* keys
};

// Writes `pruned` as a GGUF at `output`: the source's metadata (tokenizer, general.*) with the
// architecture keys of the pruned config, the tensors in the pruned model's order with q/k rows
// in llama.cpp's interleaved layout. Returns the file size. Throws Error on I/O failure.
uint64_t write_structured_gguf(const Model& pruned, const std::string& output,
                               const StructuredExportInfo& info);

// Writes `pruned` as a Hugging Face folder `dir` (model.safetensors in HF names and the
// rotate-half q/k layout, config.json; the tokenizer files of an HF source are copied, a GGUF
// source has none to copy). The folder is built beside `dir` and renamed into place; an existing
// `dir` is replaced. Returns the bytes written. Throws Error on I/O failure.
uint64_t write_structured_hf(const Model& pruned, const std::string& dir,
                             const StructuredExportInfo& info);

}  // namespace edgefit
