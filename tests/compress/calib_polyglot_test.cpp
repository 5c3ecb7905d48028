// Slow: calibration methods on the polyglot model against round-to-nearest and llama.cpp,
// per language (NTREX-128 eval texts, context 256, llama-perplexity's protocol, KL-divergence
// against the f32 model). Calibration: the twelve ../shared/text/ntrex128/calib files, equal
// tokens per language, 128 × 256 tokens.
//
// EDGEFIT_CALIB_EVAL_CHUNKS (default 8; 0 = all) caps the windows per language so the binary
// runs in minutes; the full-text numbers are in docs/quantization-methods.md. Under ASan the
// calibration shrinks (EDGEFIT_SLOW_SUBSET forces the small settings anywhere).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "compress/calibrated_quantize.h"
#include "compress/methods/awq/awq_block.h"
#include "compress/methods/smoothquant/smoothquant_block.h"
#include "eval/language_table.h"
#include "eval/model_tokenizer.h"
#include "methods/quantize_model.h"
#include "polyglot_fixture.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;
using test::scratch_dir;
using test::shared_path;

const std::string& kF32 = test::kPolyglotF32;
const std::string kEvalDir = shared_path("text/ntrex128/eval");

bool small_run() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#else
  return std::getenv("EDGEFIT_SLOW_SUBSET") != nullptr;
#endif
}

int64_t eval_chunks() {
  if (const char* e = std::getenv("EDGEFIT_CALIB_EVAL_CHUNKS")) return std::atoll(e);
  return small_run() ? 1 : 8;
}

std::vector<std::string> calib_files(bool english_only = false) {
  if (english_only) return {shared_path("text/ntrex128/calib/eng-US.txt")};
  return test::all_calib_files();
}

// Per-language mean KLD (and PPL) of a quantized file against the f32 model.
struct Eval {
  std::map<std::string, double> kld, ppl, base_ppl;
  double mean_kld = 0;  // mean over languages of each language's mean KLD (the README's mean)
};

Eval evaluate(const std::string& path) {
  const LanguageTable table = test::evaluate_against_f32(path, kEvalDir, eval_chunks());
  Eval e;
  for (const auto& r : table.rows) {
    e.kld[r.language] = r.result.kld->mean();
    e.ppl[r.language] = r.result.model.ppl();
    e.base_ppl[r.language] = r.result.base->ppl();
    e.mean_kld += r.result.kld->mean();
  }
  e.mean_kld /= static_cast<double>(table.rows.size());
  return e;
}

std::string rtn(const std::string& dir, const std::string& preset) {
  const std::string out = dir + "/rtn-" + preset + ".gguf";
  QuantizeOptions qo;
  qo.preset = preset;
  quantize_model(kF32, out, qo);
  return out;
}

std::string calibrated(const std::string& dir, const std::string& method, const std::string& preset,
                       bool english_only = false) {
  const std::string out = dir + "/" + method + "-" + preset + (english_only ? "-en" : "") + ".gguf";
  QuantizeOptions qo;
  qo.preset = preset;
  CalibratedOptions co;
  co.method = method;
  co.calib_files = calib_files(english_only);
  co.samples = small_run() ? 12 : 128;
  co.seqlen = small_run() ? 64 : 256;
  co.params.of<AwqParams>().sample_tokens = small_run() ? 256 : 2048;
  co.progress = false;
  CalibratedReport rep;
  quantize_model_calibrated(kF32, out, qo, co, &rep);
  std::printf("%s %s%s: forward %.1fs, stats %.1fs, method %.1fs, peak RSS %.0f MiB\n",
              method.c_str(), preset.c_str(), english_only ? " (English only)" : "",
              rep.pipeline.forward_seconds, rep.pipeline.stats_seconds, rep.pipeline.method_seconds,
              static_cast<double>(rep.pipeline.peak_rss_bytes) / (1 << 20));
  return out;
}

void print_table(const std::vector<std::pair<std::string, Eval>>& cols) {
  std::printf("%-8s", "language");
  for (const auto& [name, e] : cols) std::printf(" %14s", name.c_str());
  std::printf("\n");
  for (const auto& [lang, _] : cols.front().second.kld) {
    std::printf("%-8s", lang.c_str());
    for (const auto& [name, e] : cols) std::printf(" %14.5f", e.kld.at(lang));
    std::printf("\n");
  }
  std::printf("%-8s", "mean");
  for (const auto& [name, e] : cols) std::printf(" %14.5f", e.mean_kld);
  std::printf("\n");
}

TEST(CalibPolyglot, GptqBeatsRtnAt4And3Bits) {
  const std::string dir = scratch_dir("calib-gptq-rtn");
  for (const std::string preset : {"q4_0", "q3_k_m"}) {
    SCOPED_TRACE(preset);
    const Eval r = evaluate(rtn(dir, preset));
    const Eval g = evaluate(calibrated(dir, "gptq", preset));
    print_table({{"rtn " + preset, r}, {"gptq " + preset, g}});
    EXPECT_LT(g.mean_kld, r.mean_kld);
  }
}

TEST(CalibPolyglot, Q4KMBeatsLlamaCppImatrix) {
  // llama.cpp b4748 q4_k_m + imatrix: mean KLD 0.0019 over the twelve languages (README).
  const std::string dir = scratch_dir("calib-q4km");
  const Eval r = evaluate(rtn(dir, "q4_k_m"));
  const Eval g = evaluate(calibrated(dir, "gptq", "q4_k_m"));
  const Eval a = evaluate(calibrated(dir, "awq", "q4_k_m"));
  print_table({{"rtn q4_k_m", r}, {"gptq q4_k_m", g}, {"awq q4_k_m", a}});
  EXPECT_LT(g.mean_kld, r.mean_kld);
  if (!small_run()) {
    EXPECT_LT(std::min(g.mean_kld, a.mean_kld), 0.0019);
  }
}

TEST(CalibPolyglot, MultilingualVsEnglishCalibrationAt3Bits) {
  const std::string dir = scratch_dir("calib-lang");
  const Eval multi = evaluate(calibrated(dir, "gptq", "q3_k_m"));
  const Eval en = evaluate(calibrated(dir, "gptq", "q3_k_m", /*english_only=*/true));
  print_table({{"multilingual", multi}, {"english-only", en}});
  double m = 0, e = 0;
  for (const auto& [lang, k] : multi.kld)
    if (lang != "eng-US") m += k, e += en.kld.at(lang);
  std::printf("non-English mean: multilingual %.5f, English-only %.5f\n", m / 11, e / 11);
  if (!small_run()) {
    EXPECT_LT(m, e);
  }
}

TEST(CalibPolyglot, SmoothQuantW8A8Within1PercentPpl) {
  const std::string dir = scratch_dir("calib-sq");
  const std::string out = calibrated(dir, "smoothquant", "f16");
  const Eval s = evaluate(out);
  std::printf("%-8s %10s %10s %8s %10s\n", "language", "f32 PPL", "W8A8 PPL", "dPPL %", "KLD");
  for (const auto& [lang, p] : s.ppl) {
    const double d = 100 * (p / s.base_ppl.at(lang) - 1);
    std::printf("%-8s %10.3f %10.3f %8.3f %10.5f\n", lang.c_str(), s.base_ppl.at(lang), p, d,
                s.kld.at(lang));
    EXPECT_LT(std::fabs(d), 1.0) << lang;
  }
}

}  // namespace
}  // namespace edgefit
