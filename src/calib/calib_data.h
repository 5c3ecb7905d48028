// Calibration text → token windows, shared by every calibration-based method (imatrix, GPTQ,
// AWQ, SmoothQuant). Each file is one language, typically; the mix is equal tokens per file by
// default, or as the per-file weights say, so that a method tuned on calibration data does not
// quietly tune for English only. Windows are interleaved by file (one of each file in turn), so
// any prefix of the list is still a balanced mix.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace edgefit {

struct CalibrationWindows {
  std::vector<std::vector<int32_t>> windows;  // each `ctx` tokens, token 0 = BOS (if any)
  std::vector<size_t> file_of;                // per window: index into the files
  std::vector<size_t> per_file;               // windows drawn from each file
};

struct CalibrationDraw {
  std::vector<std::string> files;   // calibration text files
  std::vector<double> weights;      // relative token share per file (empty: equal)
  int ctx = 512;                    // tokens per window
  int64_t max_tokens_per_file = 0;  // cap on the largest share (0: none)
  // Total windows wanted (0: as many as the shortest file allows at the weights, imatrix's mix).
  // With a total, each file gets its share of the total (largest remainders first), capped by
  // what it holds, and its windows are spread evenly over the whole file rather than taken from
  // its start.
  int64_t total_windows = 0;
};

// Tokenizes the files (add_special, no special-token parsing) and draws the windows. Throws Error
// for no files, mismatched weights, a file shorter than one window, or a mix with no window.
CalibrationWindows draw_calibration_windows(const Tokenizer& tok, const CalibrationDraw& draw);

}  // namespace edgefit
