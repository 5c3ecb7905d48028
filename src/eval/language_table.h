// Perplexity (and, with a base, KL-divergence) per language: one text file per language in a
// directory, the file stem naming the language ("eng-US.txt" → "eng-US"). Compression damages
// languages unevenly, so one pooled number can hide a broken language; this table shows it.
#pragma once

#include <string>
#include <vector>

#include "eval/perplexity.h"

namespace edgefit {

struct LanguageResult {
  std::string language;  // file stem
  std::string path;      // the text file
  EvalResult result;     // that file's statistics
};

struct LanguageTable {
  std::vector<LanguageResult> rows;  // sorted by language name
  EvalResult pooled;                 // all languages' tokens together
  // Index into rows of the language hurt most: the largest mean KLD when a base was given,
  // otherwise the highest perplexity. -1 when rows is empty.
  int worst = -1;
};

// The text files of `dir` (regular, non-hidden files), sorted by name. Throws Error when the
// directory cannot be read or holds none.
std::vector<std::string> language_files(const std::string& dir);

// Evaluates every file of `dir` with the same protocol as evaluate_text(). Throws Error naming
// the file that fails (empty, too short for one window, …).
LanguageTable evaluate_languages(Transformer& model, Transformer* base, const Tokenizer& tok,
                                 const std::string& dir, const EvalOptions& opt);

// ΔPPL in percent of MODEL over BASE (NaN without a base).
double delta_ppl_percent(const EvalResult& r);

// The table as fixed-width text: language, tokens, PPL, and with a base ΔPPL %, KLD, top-1;
// the worst language marked with '*'.
std::string format_language_table(const LanguageTable& t);

}  // namespace edgefit
