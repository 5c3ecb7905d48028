// What the compress room's tests share about the polyglot model: its f32 GGUF, the NTREX-128
// calibration files, the settings of a small calibrated run, and the per-language evaluation of a
// compressed file against the f32 model (the slow tests' measure).
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "compress/calibrated_quantize.h"
#include "eval/language_table.h"
#include "eval/model_tokenizer.h"
#include "formats/model.h"
#include "model/transformer.h"
#include "test_data.h"

namespace edgefit::test {

// The uncompressed polyglot model every compress test starts from.
inline const std::string kPolyglotF32 = shared_path("models/polyglot/gguf/polyglot-f32.gguf");

// Four calibration files of different scripts (German, US English, Japanese, Russian): enough
// for the fast tests' few windows.
inline std::vector<std::string> four_calib_files() {
  std::vector<std::string> f;
  for (const char* l : {"deu", "eng-US", "jpn", "rus"})
    f.push_back(shared_path(std::string("text/ntrex128/calib/") + l + ".txt"));
  return f;
}

// All twelve calibration files, sorted (the slow tests' equal-tokens-per-language mix).
inline std::vector<std::string> all_calib_files() {
  std::vector<std::string> f;
  for (const auto& e : std::filesystem::directory_iterator(shared_path("text/ntrex128/calib")))
    f.push_back(e.path().string());
  std::sort(f.begin(), f.end());
  return f;
}

// A small, fast calibrated run of `method`: 6 windows of 32 tokens over four_calib_files(),
// resumable in `work_dir`, silent.
inline CalibratedOptions small_calibrated(const std::string& method, const std::string& work_dir) {
  CalibratedOptions co;
  co.method = method;
  co.calib_files = four_calib_files();
  co.samples = 6;
  co.seqlen = 32;
  co.progress = false;
  co.work_dir = work_dir;
  return co;
}

// `path` evaluated per language on the texts in `eval_dir` against the f32 polyglot model
// (context 256, at most `max_chunks` windows per language; 0 = all). The base model, its forward
// pass and tokenizer are loaded once per test binary.
inline LanguageTable evaluate_against_f32(const std::string& path, const std::string& eval_dir,
                                          int64_t max_chunks) {
  static const Model base_model = load_model(kPolyglotF32);
  static Transformer base(base_model);
  static const auto tok = load_model_tokenizer(kPolyglotF32, "", base_model.config.vocab_size);
  const Model m = load_model(path);
  Transformer t(m);
  EvalOptions eo;
  eo.ctx = 256;
  eo.max_chunks = max_chunks;
  eo.progress = false;
  return evaluate_languages(t, &base, *tok, eval_dir, eo);
}

}  // namespace edgefit::test
