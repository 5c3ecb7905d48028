// `edgefit synth`: random-weight GGUF models with the exact shapes of real ones, so speed and
// memory can be measured anywhere without downloading weights. Files are valid llama.cpp models
// (hyperparameters, a dummy SentencePiece-style vocabulary of the real size, every tensor) whose
// weights are random blocks of the requested type, chosen per tensor as the preset would.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "formats/model.h"

namespace edgefit {

struct SynthShape {
  std::string name;   // "tinyllama-1.1b"
  ArchConfig config;  // hyperparameters of the real model
};

// The shapes `--like` accepts: tinyllama-1.1b, llama-3.2-1b, qwen2.5-0.5b, llama-2-7b.
const std::vector<SynthShape>& synth_shapes();
const SynthShape& find_synth_shape(const std::string& name);  // throws UsageError listing names

struct SynthOptions {
  std::string like = "tinyllama-1.1b";  // shape name
  std::string type = "q4_0";            // preset (q4_0, q4_k_m, q8_0, f16, …)
  int n_layers = 0;                     // override the layer count (0: the real one)
  uint64_t seed = 1;                    // random stream
  std::string sparsity;                 // "": dense; "2:4" or a fraction F in [0.5, 1): the
                                        // blocks' matmuls pruned by magnitude to that pattern and
                                        // stored in edgefit's sparse types (synth_sparse_type)
  std::string sparse_type;              // "": the --sparsity's default type; else the mask type
                                        // a fraction is stored in (q4_mask50, q4_mask62,
                                        // q4_qmask62), for side-by-side runs of the formats
  bool progress = true;                 // progress on stderr
};

// The sparse type and kept weights per 256-block of a --sparsity value: "2:4" → Q4_2OF4 (128);
// F = 0.5 → Q4_MASK50 (128); 0.5 < F < 1 → Q4_QMASK62, keeping 256 − ⌈256·F⌉ but at most its
// capacity 96 (so F < 0.625 is stored 62.5 % sparse: every block must fit), spread over the
// block's 32-weight runs as pruning into q4_qmask62 does (at most 12 per run). sparse_type (a
// mask type's name) replaces a fraction's type, the count again capped by its capacity.
// UsageError otherwise.
struct SynthSparsity {
  DType type;          // the blocks' matmul type
  int kept_per_block;  // nonzeros kept per 256 weights (largest magnitudes; 2:4: 2 per 4)
};
SynthSparsity synth_sparse_type(const std::string& sparsity, const std::string& sparse_type = "");

// Writes the model to `path` atomically; returns the file size.
uint64_t write_synth_model(const std::string& path, const SynthOptions& options);

}  // namespace edgefit
