// `edgefit compress`: the four phases an engineer runs by hand, in one resumable run.
//   1. baseline: the full-precision model's perplexity per language
//   2. plan: which presets (× methods: imatrix RTN and GPTQ with calibration text) fit the
//      device (file size, RAM at the chosen context) and reach the speed target
//   3. compress: quantize each candidate worth building (plan/choose_recipe.h says which)
//   4. validate: KL-divergence and ΔPPL per language against the baseline; choose by the
//      objective (default: the best measured quality within the ΔPPL bound), with the reason
// and writes OUTDIR/<recipe>.gguf files, report.json and report.html.
#pragma once

#include <string>
#include <vector>

#include "plan/choose_recipe.h"
#include "report/compress_report.h"

namespace edgefit {

struct CompressOptions {
  std::string model;                 // HF folder, GGUF or llama2.c checkpoint
  std::string device = "host";       // device id or profile path
  std::string out_dir;               // where GGUFs and the report go
  int context = 0;                   // context the runtime must hold in RAM (KV cache);
                                     // 0: min(512, trained context)
  ChoiceCriteria criteria;           // objective, speed target, size target, ΔPPL bound
  std::vector<std::string> calib;    // calibration text files (imatrix); empty: plain RTN
  std::string langs_dir;             // one eval text per language
  std::string text;                  // or a single eval text
  int eval_ctx = 0;                  // eval window (0: min(512, trained context))
  int64_t max_chunks = 0;            // windows per language (0: all)
  int64_t calib_tokens = 0;          // calibration tokens per file (0: all, up to 16k)
  std::vector<std::string> recipes;  // presets to consider (empty: the standard ladder)
  std::vector<std::string> methods;  // "imatrix", "gptq", "rtn" (empty: imatrix and gptq with
                                     // calibration text, rtn without)
  std::string tokenizer;             // tokenizer override
  bool measure_speed = true;         // time decode on the host for each built candidate
  bool evaluate_all = false;         // validate every candidate that fits (a fuller report): also
                                     // those missing the speed or size target, and for size/speed
                                     // past the first one within the bound
};

// Runs the pipeline; throws Error for bad input or when no preset can qualify on the device (the
// message says why: the smallest achievable size, or the fastest predicted speed); report.json
// and report.html are written in that case too, with the reason.
CompressReport run_compress(const CompressOptions& options);

// The presets tried by default, smallest first by design (sorted again by planned size).
const std::vector<std::string>& default_recipes();

}  // namespace edgefit
