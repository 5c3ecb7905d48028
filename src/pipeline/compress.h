// `edgefit compress`: the four phases an engineer runs by hand, in one resumable run.
//   1. baseline: the full-precision model's perplexity per language
//   2. plan: which presets fit the device (file size, RAM at the chosen context), cheapest first
//   3. compress: quantize each candidate (with an importance matrix from calibration text)
//   4. validate: KL-divergence and ΔPPL per language against the baseline; pick the smallest
//      candidate within the quality bound (or the best that fits, with a warning)
// and writes OUTDIR/<recipe>.gguf files, report.json and report.html.
#pragma once

#include <string>
#include <vector>

#include "report/compress_report.h"

namespace edgefit {

struct CompressOptions {
  std::string model;                  // HF folder, GGUF or llama2.c checkpoint
  std::string device = "host";        // device id or profile path
  std::string out_dir;                // where GGUFs and the report go
  int context = 2048;                 // context the runtime must hold in RAM (KV cache)
  double max_ppl_increase_pct = 5.0;  // quality bound: ΔPPL per language
  std::vector<std::string> calib;     // calibration text files (imatrix); empty: plain RTN
  std::string langs_dir;              // one eval text per language
  std::string text;                   // or a single eval text
  int eval_ctx = 0;                   // eval window (0: min(512, trained context))
  int64_t max_chunks = 0;             // windows per language (0: all)
  int64_t calib_tokens = 0;           // calibration tokens per file (0: all, up to 16k)
  std::vector<std::string> recipes;   // presets to consider (empty: the standard ladder)
  std::string recipe_file;            // a recipe JSON: the one candidate (instead of presets)
  std::string tokenizer;              // tokenizer override
  bool measure_speed = true;          // time decode on the host for each built candidate
  bool evaluate_all = false;          // validate every fitting candidate (a fuller report), not
                                      // just up to the first one within the bound
};

// Runs the pipeline; throws Error for bad input or when no preset can fit the device (the
// message names the smallest achievable size).
CompressReport run_compress(const CompressOptions& options);

// The presets tried by default, cheapest first by design (sorted again by planned size).
const std::vector<std::string>& default_recipes();

}  // namespace edgefit
