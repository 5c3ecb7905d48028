// Perplexity and KL-divergence with llama.cpp's `llama-perplexity` protocol, so numbers are
// comparable with llama.cpp's: tokenize the whole text (with BOS when the tokenizer adds one),
// cut it into non-overlapping windows of `ctx` tokens, set token 0 of every window to BOS, and
// score only the second half — the logits at positions ctx/2 … ctx-2 predict tokens
// ctx/2+1 … ctx-1 — so every scored token has at least ctx/2 tokens of context.
//
// With a BASE model, both models run side by side on the same windows and every scored position
// also yields KL(base ‖ model) of the full next-token distributions, whether the top-1 tokens
// agree, and |p_model − p_base| of the correct token.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

namespace edgefit {

// Running sums of per-token negative log-likelihoods; mergeable across texts.
struct NllStats {
  double sum = 0;     // Σ nll (nats)
  double sum_sq = 0;  // Σ nll², for the standard error
  int64_t count = 0;  // tokens scored

  void add(double nll) {
    sum += nll;
    sum_sq += nll * nll;
    ++count;
  }
  void merge(const NllStats& o) {
    sum += o.sum;
    sum_sq += o.sum_sq;
    count += o.count;
  }
  double ppl() const;  // exp(mean nll)
  // llama.cpp's "± " figure: ppl · sqrt(var(nll) / (count − 1)), var from the raw moments.
  double ppl_stderr() const;
};

// Per-token comparison of MODEL with BASE; mergeable across texts.
struct KldStats {
  std::vector<float> kld;  // KL(base ‖ model) per scored token (nats)
  int64_t top1_same = 0;   // tokens where both models' argmax agree
  double abs_dp_sum = 0;   // Σ |p_model(correct) − p_base(correct)|

  void merge(const KldStats& o);
  int64_t count() const { return static_cast<int64_t>(kld.size()); }
  double mean() const;
  double quantile(double q) const;  // nearest-rank on a sorted copy (0.5 = median, 0.99 = p99)
  double top1_agreement() const;    // fraction in [0, 1]
  double mean_abs_dp() const;
};

struct EvalOptions {
  int ctx = 512;           // window length in tokens
  int64_t max_chunks = 0;  // evaluate at most this many windows (0 = all)
  std::string label;       // shown on the progress line ("eng-US", the file name, …)
  bool progress = true;    // draw a progress line on stderr
};

struct EvalResult {
  NllStats model;                // MODEL's perplexity statistics
  std::optional<NllStats> base;  // BASE's, when a base was given
  std::optional<KldStats> kld;   // MODEL vs BASE, when a base was given
  int64_t n_text_tokens = 0;     // tokens the text tokenized to (BOS included)
  int64_t n_chunks = 0;          // windows evaluated

  void merge(const EvalResult& o);  // pool two texts (e.g. all languages)
};

// Log-softmax of one logit row at `target`, in double (as llama.cpp's log_softmax).
double log_prob(std::span<const float> logits, int32_t target);

// Evaluates already-tokenized text. `bos` replaces token 0 of every window (-1: leave it).
// `base` may be null. Throws Error when there is not one full window of tokens.
EvalResult evaluate_tokens(Transformer& model, Transformer* base, std::span<const int32_t> tokens,
                           int32_t bos, const EvalOptions& opt);

// Tokenizes `text` the way llama-perplexity does (add_special, no special-token parsing) and
// evaluates it. `origin` names the text in errors. Throws Error on empty or too-short text.
EvalResult evaluate_text(Transformer& model, Transformer* base, const Tokenizer& tok,
                         std::string_view text, const std::string& origin, const EvalOptions& opt);

// Throws Error when BASE cannot be compared with MODEL (different vocabulary size).
void check_comparable(const Transformer& model, const Transformer& base,
                      const std::string& base_path);

}  // namespace edgefit
