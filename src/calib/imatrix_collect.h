// `edgefit imatrix`: the importance of every input channel of every linear layer, measured on
// calibration text as the mean squared activation entering the layer (what llama.cpp's imatrix
// collects). Quantizers weight their rounding error by it, so channels that carry large
// activations are kept more precisely. Calibration text in several languages, each weighted as
// the user says (default: equal tokens per language), keeps languages other than English safe.
#pragma once

#include <string>
#include <vector>

#include "formats/model.h"
#include "methods/imatrix_file.h"
#include "tokenizer/tokenizer.h"

namespace edgefit {

struct CalibrationOptions {
  std::vector<std::string> files;  // calibration text files (one per language, typically)
  std::vector<double> weights;     // relative token share per file (empty: equal)
  int ctx = 512;                   // tokens per chunk (each chunk starts with BOS)
  int64_t max_tokens_per_file =
      0;                 // cap on the largest file's tokens (0: all); others scale by weight
  bool progress = true;  // progress line on stderr
};

// Runs the model over the calibration chunks and returns per-tensor mean squared activations.
// Throws Error on unreadable or empty files, or a file too short for one chunk.
Imatrix collect_imatrix(const Model& model, const Tokenizer& tok,
                        const CalibrationOptions& options);

}  // namespace edgefit
