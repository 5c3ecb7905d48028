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
  bool progress = true;                 // progress on stderr
};

// Writes the model to `path` atomically; returns the file size.
uint64_t write_synth_model(const std::string& path, const SynthOptions& options);

}  // namespace edgefit
