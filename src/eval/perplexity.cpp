#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/progress.h"
#include "core/thread_pool.h"
#include "model/sampler.h"

namespace edgefit {

double NllStats::ppl() const {
  return count ? std::exp(sum / static_cast<double>(count)) : NAN;
}

double NllStats::ppl_stderr() const {
  if (count < 2) return NAN;
  const double mean = sum / static_cast<double>(count);
  const double var = sum_sq / static_cast<double>(count) - mean * mean;
  if (var <= 0) return 0.0;
  return std::sqrt(var / static_cast<double>(count - 1)) * std::exp(mean);
}

void KldStats::merge(const KldStats& o) {
  kld.insert(kld.end(), o.kld.begin(), o.kld.end());
  top1_same += o.top1_same;
  abs_dp_sum += o.abs_dp_sum;
}

double KldStats::mean() const {
  if (kld.empty()) return NAN;
  double s = 0;
  for (float v : kld) s += v;
  return s / static_cast<double>(kld.size());
}

double KldStats::quantile(double q) const {
  if (kld.empty()) return NAN;
  std::vector<float> sorted = kld;
  std::sort(sorted.begin(), sorted.end());
  // Nearest rank: the smallest value with at least q of the data at or below it.
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double KldStats::top1_agreement() const {
  return kld.empty() ? NAN : static_cast<double>(top1_same) / static_cast<double>(kld.size());
}

double KldStats::mean_abs_dp() const {
  return kld.empty() ? NAN : abs_dp_sum / static_cast<double>(kld.size());
}

void EvalResult::merge(const EvalResult& o) {
  model.merge(o.model);
  if (o.base) {
    if (!base) base.emplace();
    base->merge(*o.base);
  }
  if (o.kld) {
    if (!kld) kld.emplace();
    kld->merge(*o.kld);
  }
  n_text_tokens += o.n_text_tokens;
  n_chunks += o.n_chunks;
}

double log_prob(std::span<const float> logits, int32_t target) {
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - mx);
  return static_cast<double>(logits[static_cast<size_t>(target)]) - mx - std::log(sum);
}

namespace {

// Log-softmax of a whole row into out (double), returning the argmax.
int32_t log_softmax(std::span<const float> logits, std::vector<double>& out) {
  out.resize(logits.size());
  const int32_t best = argmax(logits);
  const double mx = logits[static_cast<size_t>(best)];
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) sum += std::exp(logits[i] - mx);
  const double lse = mx + std::log(sum);
  for (size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - lse;
  return best;
}

// What one scored position contributes when comparing with a base.
struct KldPoint {
  float kld;       // KL(base ‖ model)
  bool same_top1;  // argmaxes agree
  double abs_dp;   // |p_model(target) − p_base(target)|
};

KldPoint compare_rows(std::span<const float> model, std::span<const float> base, int32_t target) {
  thread_local std::vector<double> lm, lb;
  const int32_t am = log_softmax(model, lm);
  const int32_t ab = log_softmax(base, lb);
  double kld = 0;
  for (size_t i = 0; i < lm.size(); ++i) kld += std::exp(lb[i]) * (lb[i] - lm[i]);
  const size_t t = static_cast<size_t>(target);
  return {static_cast<float>(std::max(0.0, kld)), am == ab,
          std::fabs(std::exp(lm[t]) - std::exp(lb[t]))};
}

}  // namespace

void check_comparable(const Transformer& model, const Transformer& base,
                      const std::string& base_path) {
  if (model.vocab_size() != base.vocab_size())
    throw Error("base model has a vocabulary of " + std::to_string(base.vocab_size()) +
                    " tokens but the model has " + std::to_string(model.vocab_size()) +
                    "; KL-divergence needs the same vocabulary",
                base_path);
}

EvalResult evaluate_tokens(Transformer& model, Transformer* base, std::span<const int32_t> tokens,
                           int32_t bos, const EvalOptions& opt) {
  if (opt.ctx < 4)
    throw Error("--ctx must be at least 4 tokens (got " + std::to_string(opt.ctx) + ")");
  if (base) check_comparable(model, *base, "");
  const int64_t ctx = opt.ctx;
  const int64_t n_tok = static_cast<int64_t>(tokens.size());
  int64_t n_chunks = n_tok / ctx;
  if (n_chunks == 0)
    throw Error("text has " + std::to_string(n_tok) + " tokens, fewer than one window of " +
                std::to_string(ctx) + " (lower --ctx or use a longer text)");
  if (opt.max_chunks > 0) n_chunks = std::min(n_chunks, opt.max_chunks);

  const int64_t first = ctx / 2;             // first position whose logits are scored
  const int64_t n_scored = ctx - 1 - first;  // positions first … ctx-2
  const size_t V = static_cast<size_t>(model.vocab_size());
  EvalResult res;
  res.n_text_tokens = n_tok;
  res.n_chunks = n_chunks;
  if (base) {
    res.base.emplace();
    res.kld.emplace();
    res.kld->kld.reserve(static_cast<size_t>(n_chunks * n_scored));
  }
  // F16 keys and values, as llama-perplexity (b4748) ran the references in ../shared.
  KVCache cache = model.make_cache(ctx, KVType::F16, KVType::F16);
  std::optional<KVCache> base_cache;
  if (base) base_cache.emplace(base->make_cache(ctx, KVType::F16, KVType::F16));
  std::vector<float> logits(static_cast<size_t>(n_scored + 1) * V), base_logits;
  if (base) base_logits.resize(logits.size());
  std::vector<int32_t> window(static_cast<size_t>(ctx));
  std::vector<double> nll(static_cast<size_t>(n_scored)), base_nll(static_cast<size_t>(n_scored));
  std::vector<KldPoint> points(static_cast<size_t>(n_scored));

  std::optional<Progress> progress;
  if (opt.progress) progress.emplace("eval " + opt.label, static_cast<uint64_t>(n_chunks), "chunk");
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::copy_n(tokens.begin() + c * ctx, ctx, window.begin());
    if (bos >= 0) window[0] = bos;
    cache.clear();
    model.forward(window, cache, logits.data(), first);
    if (base) {
      base_cache->clear();
      base->forward(window, *base_cache, base_logits.data(), first);
    }
    // Scoring a row is a few vocab-length passes: parallel over the scored positions.
    ThreadPool::global().parallel_for(n_scored, 4, [&](int64_t b, int64_t e) {
      for (int64_t j = b; j < e; ++j) {
        const int32_t target = window[static_cast<size_t>(first + 1 + j)];
        std::span<const float> row(logits.data() + static_cast<size_t>(j) * V, V);
        nll[static_cast<size_t>(j)] = -log_prob(row, target);
        if (base) {
          std::span<const float> brow(base_logits.data() + static_cast<size_t>(j) * V, V);
          base_nll[static_cast<size_t>(j)] = -log_prob(brow, target);
          points[static_cast<size_t>(j)] = compare_rows(row, brow, target);
        }
      }
    });
    // Accumulated in order, so results do not depend on the thread count.
    for (int64_t j = 0; j < n_scored; ++j) {
      res.model.add(nll[static_cast<size_t>(j)]);
      if (base) {
        res.base->add(base_nll[static_cast<size_t>(j)]);
        const KldPoint& p = points[static_cast<size_t>(j)];
        res.kld->kld.push_back(p.kld);
        res.kld->top1_same += p.same_top1 ? 1 : 0;
        res.kld->abs_dp_sum += p.abs_dp;
      }
    }
    if (progress) progress->advance();
  }
  if (progress) progress->finish();
  return res;
}

EvalResult evaluate_text(Transformer& model, Transformer* base, const Tokenizer& tok,
                         std::string_view text, const std::string& origin, const EvalOptions& opt) {
  if (text.empty()) throw Error("text is empty", origin);
  const std::vector<int32_t> tokens =
      tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
  const int32_t bos = tok.add_bos() ? tok.bos_id() : -1;
  try {
    return evaluate_tokens(model, base, tokens, bos, opt);
  } catch (const Error& e) {
    if (!e.file().empty()) throw;
    throw Error(e.message(), origin);
  }
}

}  // namespace edgefit
