// The result of `edgefit compress` as data, and its two renderings: report.json (for tools and
// tests) and report.html (one self-contained page with inline SVG charts, for people).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plan/cost_model.h"
#include "plan/device_profile.h"

namespace edgefit {

// Quality of one model on one language (or on all text together).
struct QualityResult {
  double ppl = 0;         // perplexity
  double ppl_stderr = 0;  // its standard error
  double kld_mean = 0;    // mean KL-divergence from the base model (0 for the base)
  double kld_p99 = 0;     // 99th percentile of per-token KLD
  double top1 = 1;        // top-1 agreement with the base model
  int64_t n_tokens = 0;   // scored tokens
};

struct CandidateResult {
  std::string recipe;                              // preset name ("q4_k_m")
  std::string method;                              // "rtn", "imatrix", …
  std::string file;                                // the GGUF written ("" when not built)
  CostEstimate cost;                               // predicted size, memory and speed on the device
  bool built = false;                              // quantized and evaluated
  QualityResult overall;                           // mean over languages (or the single text)
  std::map<std::string, QualityResult> languages;  // per language, keyed by file stem
  double max_dppl_pct = 0;                         // worst language's ΔPPL in percent
  double measured_tps = -1;  // decode tokens/s measured on the host (−1: not measured)
  std::vector<std::pair<std::string, double>> tensor_bits;  // per tensor: name → bits per weight
  // Pruned recipes only (empty otherwise), read back from the written file: the fraction of
  // exact zeros per block matrix, and per layer (zeros over values of the block's matrices).
  std::vector<std::pair<std::string, double>> tensor_sparsity;
  std::vector<double> layer_sparsity;
  nlohmann::ordered_json recipe_json;  // the candidate's recipe (recipe/recipe.h JSON form)
};

struct CompressReport {
  std::string model;                  // input path
  std::string architecture;           // e.g. "llama"
  int64_t n_params = 0;               // parameters of the model
  DeviceProfile device;               // target
  int context = 0;                    // context the memory budget is planned for
  double max_ppl_increase_pct = 0;    // the quality bound
  std::string objective = "quality";  // what "best" meant: quality, size or speed
  double min_tps = 0;                 // speed target: predicted decode tokens/s (0: none)
  uint64_t target_size_bytes = 0;     // largest acceptable file (0: none)
  QualityResult baseline;             // the full-precision model
  std::map<std::string, QualityResult> baseline_languages;  // per language
  std::vector<CandidateResult> candidates;                  // smallest file first
  int chosen = -1;                    // index into candidates (−1: nothing fits)
  int runner_up = -1;                 // the candidate that came next (−1: none)
  std::string decision;               // one sentence: why chosen won (or why nothing could)
  std::vector<std::string> warnings;  // what the user must know
  double elapsed_s = 0;               // wall time of the run
};

nlohmann::ordered_json report_to_json(const CompressReport& r);
std::string report_to_html(const CompressReport& r);

}  // namespace edgefit
